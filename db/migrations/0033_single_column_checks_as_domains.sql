-- 0033 the single-column rules of the tables a capture writes are domains instead of table CHECKs (issue 18).
-- A table CHECK is stored as a node tree that every INSERT or UPDATE statement reads (stringToNode) and plans again
-- before its first row, for every check of the table, whatever columns the statement sets: crm.leads' 24 checks cost
-- 0.63 M of a capture's 11.6 M instructions, all checks of all tables 1.19 M (bench/instructions.py). A domain's
-- checks are read and planned once per session (the type cache) and an UPDATE checks only the columns it sets: an
-- assignment's UPDATE of crm.agents (active_leads, last_assigned_at) checks one rule instead of nine.
-- Each column gets its own domain, crm.<table>_<column>, and the domain's constraint keeps the name the table check
-- had, so a violation is the same SQLSTATE (23514) with the same constraint name for psql and the API (only the
-- message names the domain). Checks on several columns stay table CHECKs, and so do the columns that the analytics
-- snapshot (reporting.lead_facts_snapshot, a materialized view) reads: score, score_breakdown, deal_value_aed,
-- lost_reason, response_seconds (a column type cannot change under a materialized view).
-- What it costs: the ALTERs rewrite crm.leads, crm.agents, crm.lead_assignments, crm.follow_up_tasks and
-- crm.outbox_events (each under an ACCESS EXCLUSIVE lock, once), docs/operations.md.
CREATE DOMAIN crm.leads_budget_max AS numeric(14,2)
    CONSTRAINT leads_budget_max_nonnegative CHECK ((VALUE >= (0)::numeric));
CREATE DOMAIN crm.leads_budget_min AS numeric(14,2)
    CONSTRAINT leads_budget_min_nonnegative CHECK ((VALUE >= (0)::numeric));
CREATE DOMAIN crm.leads_campaign_id AS text
    CONSTRAINT leads_campaign_id_length CHECK ((length(VALUE) <= 200));
CREATE DOMAIN crm.leads_email AS character varying(255)
    CONSTRAINT leads_email_format CHECK ((((VALUE)::text ~ '^[^@\s]+@[^@\s]+\.[^@\s]+$'::text) AND ((VALUE)::text = lower((VALUE)::text))));
CREATE DOMAIN crm.leads_external_id AS text
    CONSTRAINT leads_external_id_length CHECK (((length(VALUE) >= 1) AND (length(VALUE) <= 200)));
CREATE DOMAIN crm.leads_first_name AS character varying(100)
    CONSTRAINT leads_first_name_printable CHECK ((((VALUE)::text !~ '^[[:space:]]*$'::text) AND ((VALUE)::text !~ '[\x01-\x1f\x7f-\x9f]'::text)));
CREATE DOMAIN crm.leads_last_name AS character varying(100)
    CONSTRAINT leads_last_name_printable CHECK ((((VALUE)::text !~ '^[[:space:]]*$'::text) AND ((VALUE)::text !~ '[\x01-\x1f\x7f-\x9f]'::text)));
CREATE DOMAIN crm.leads_phone AS character varying(20)
    CONSTRAINT leads_phone_e164 CHECK (((VALUE)::text ~ '^\+[1-9][0-9]{6,14}$'::text));
CREATE DOMAIN crm.leads_unmatched_input AS jsonb
    CONSTRAINT leads_unmatched_input_object CHECK ((jsonb_typeof(VALUE) = 'object'::text));
CREATE DOMAIN crm.leads_utm_campaign AS text
    CONSTRAINT leads_utm_campaign_length CHECK ((length(VALUE) <= 200));
CREATE DOMAIN crm.leads_utm_medium AS text
    CONSTRAINT leads_utm_medium_length CHECK ((length(VALUE) <= 200));
CREATE DOMAIN crm.leads_utm_source AS text
    CONSTRAINT leads_utm_source_length CHECK ((length(VALUE) <= 200));
CREATE DOMAIN crm.leads_version AS integer
    CONSTRAINT leads_version_positive CHECK ((VALUE > 0));
ALTER TABLE crm.leads
    DROP CONSTRAINT leads_budget_max_nonnegative,
    ALTER COLUMN budget_max TYPE crm.leads_budget_max,
    DROP CONSTRAINT leads_budget_min_nonnegative,
    ALTER COLUMN budget_min TYPE crm.leads_budget_min,
    DROP CONSTRAINT leads_campaign_id_length,
    ALTER COLUMN campaign_id TYPE crm.leads_campaign_id,
    DROP CONSTRAINT leads_email_format,
    ALTER COLUMN email TYPE crm.leads_email,
    DROP CONSTRAINT leads_external_id_length,
    ALTER COLUMN external_id TYPE crm.leads_external_id,
    DROP CONSTRAINT leads_first_name_printable,
    ALTER COLUMN first_name TYPE crm.leads_first_name,
    DROP CONSTRAINT leads_last_name_printable,
    ALTER COLUMN last_name TYPE crm.leads_last_name,
    DROP CONSTRAINT leads_phone_e164,
    ALTER COLUMN phone TYPE crm.leads_phone,
    DROP CONSTRAINT leads_unmatched_input_object,
    ALTER COLUMN unmatched_input TYPE crm.leads_unmatched_input,
    DROP CONSTRAINT leads_utm_campaign_length,
    ALTER COLUMN utm_campaign TYPE crm.leads_utm_campaign,
    DROP CONSTRAINT leads_utm_medium_length,
    ALTER COLUMN utm_medium TYPE crm.leads_utm_medium,
    DROP CONSTRAINT leads_utm_source_length,
    ALTER COLUMN utm_source TYPE crm.leads_utm_source,
    DROP CONSTRAINT leads_version_positive,
    ALTER COLUMN version TYPE crm.leads_version;
CREATE DOMAIN crm.agents_active_leads AS integer
    CONSTRAINT agents_active_leads_nonnegative CHECK ((VALUE >= 0));
CREATE DOMAIN crm.agents_email AS character varying(255)
    CONSTRAINT agents_email_format CHECK ((((VALUE)::text ~ '^[^@\s]+@[^@\s]+\.[^@\s]+$'::text) AND ((VALUE)::text = lower((VALUE)::text))));
CREATE DOMAIN crm.agents_full_name AS character varying(200)
    CONSTRAINT agents_full_name_not_blank CHECK ((btrim((VALUE)::text) <> ''::text));
CREATE DOMAIN crm.agents_max_active_leads AS smallint
    CONSTRAINT agents_max_active_leads_range CHECK (((VALUE >= 0) AND (VALUE <= 50)));
CREATE DOMAIN crm.agents_pause_reason AS text
    CONSTRAINT agents_pause_reason_length CHECK ((length(VALUE) <= 200));
CREATE DOMAIN crm.agents_performance_score AS numeric(5,2)
    CONSTRAINT agents_performance_score_range CHECK (((VALUE >= (0)::numeric) AND (VALUE <= (100)::numeric)));
CREATE DOMAIN crm.agents_phone AS character varying(20)
    CONSTRAINT agents_phone_e164 CHECK (((VALUE)::text ~ '^\+[1-9][0-9]{6,14}$'::text));
ALTER TABLE crm.agents
    DROP CONSTRAINT agents_active_leads_nonnegative,
    ALTER COLUMN active_leads TYPE crm.agents_active_leads,
    DROP CONSTRAINT agents_email_format,
    ALTER COLUMN email TYPE crm.agents_email,
    DROP CONSTRAINT agents_full_name_not_blank,
    ALTER COLUMN full_name TYPE crm.agents_full_name,
    DROP CONSTRAINT agents_max_active_leads_range,
    ALTER COLUMN max_active_leads TYPE crm.agents_max_active_leads,
    DROP CONSTRAINT agents_pause_reason_length,
    ALTER COLUMN pause_reason TYPE crm.agents_pause_reason,
    DROP CONSTRAINT agents_performance_score_range,
    ALTER COLUMN performance_score TYPE crm.agents_performance_score,
    DROP CONSTRAINT agents_phone_e164,
    ALTER COLUMN phone TYPE crm.agents_phone;
CREATE DOMAIN crm.lead_assignments_offer_round AS smallint
    CONSTRAINT lead_assignments_offer_round_positive CHECK ((VALUE >= 1));
ALTER TABLE crm.lead_assignments
    DROP CONSTRAINT lead_assignments_offer_round_positive,
    ALTER COLUMN offer_round TYPE crm.lead_assignments_offer_round;
CREATE DOMAIN crm.follow_up_tasks_notes AS text
    CONSTRAINT follow_up_tasks_notes_length CHECK ((length(VALUE) <= 2000));
ALTER TABLE crm.follow_up_tasks
    DROP CONSTRAINT follow_up_tasks_notes_length,
    ALTER COLUMN notes TYPE crm.follow_up_tasks_notes;
CREATE DOMAIN crm.outbox_events_data AS jsonb
    CONSTRAINT outbox_events_data_object CHECK ((jsonb_typeof(VALUE) = 'object'::text));
ALTER TABLE crm.outbox_events
    DROP CONSTRAINT outbox_events_data_object,
    ALTER COLUMN data TYPE crm.outbox_events_data;
