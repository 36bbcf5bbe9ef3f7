-- 0033 rolled back: the columns back to their base types and their rules back as table CHECKs, then the domains go.
ALTER TABLE crm.outbox_events
    ALTER COLUMN data TYPE jsonb,
    ADD CONSTRAINT outbox_events_data_object CHECK ((jsonb_typeof(data) = 'object'::text));
ALTER TABLE crm.follow_up_tasks
    ALTER COLUMN notes TYPE text,
    ADD CONSTRAINT follow_up_tasks_notes_length CHECK ((length(notes) <= 2000));
ALTER TABLE crm.lead_assignments
    ALTER COLUMN offer_round TYPE smallint,
    ADD CONSTRAINT lead_assignments_offer_round_positive CHECK ((offer_round >= 1));
ALTER TABLE crm.agents
    ALTER COLUMN active_leads TYPE integer,
    ALTER COLUMN email TYPE character varying(255),
    ALTER COLUMN full_name TYPE character varying(200),
    ALTER COLUMN max_active_leads TYPE smallint,
    ALTER COLUMN pause_reason TYPE text,
    ALTER COLUMN performance_score TYPE numeric(5,2),
    ALTER COLUMN phone TYPE character varying(20),
    ADD CONSTRAINT agents_active_leads_nonnegative CHECK ((active_leads >= 0)),
    ADD CONSTRAINT agents_email_format CHECK ((((email)::text ~ '^[^@\s]+@[^@\s]+\.[^@\s]+$'::text) AND ((email)::text = lower((email)::text)))),
    ADD CONSTRAINT agents_full_name_not_blank CHECK ((btrim((full_name)::text) <> ''::text)),
    ADD CONSTRAINT agents_max_active_leads_range CHECK (((max_active_leads >= 0) AND (max_active_leads <= 50))),
    ADD CONSTRAINT agents_pause_reason_length CHECK ((length(pause_reason) <= 200)),
    ADD CONSTRAINT agents_performance_score_range CHECK (((performance_score >= (0)::numeric) AND (performance_score <= (100)::numeric))),
    ADD CONSTRAINT agents_phone_e164 CHECK (((phone)::text ~ '^\+[1-9][0-9]{6,14}$'::text));
ALTER TABLE crm.leads
    ALTER COLUMN budget_max TYPE numeric(14,2),
    ALTER COLUMN budget_min TYPE numeric(14,2),
    ALTER COLUMN campaign_id TYPE text,
    ALTER COLUMN email TYPE character varying(255),
    ALTER COLUMN external_id TYPE text,
    ALTER COLUMN first_name TYPE character varying(100),
    ALTER COLUMN last_name TYPE character varying(100),
    ALTER COLUMN phone TYPE character varying(20),
    ALTER COLUMN unmatched_input TYPE jsonb,
    ALTER COLUMN utm_campaign TYPE text,
    ALTER COLUMN utm_medium TYPE text,
    ALTER COLUMN utm_source TYPE text,
    ALTER COLUMN version TYPE integer,
    ADD CONSTRAINT leads_budget_max_nonnegative CHECK ((budget_max >= (0)::numeric)),
    ADD CONSTRAINT leads_budget_min_nonnegative CHECK ((budget_min >= (0)::numeric)),
    ADD CONSTRAINT leads_campaign_id_length CHECK ((length(campaign_id) <= 200)),
    ADD CONSTRAINT leads_email_format CHECK ((((email)::text ~ '^[^@\s]+@[^@\s]+\.[^@\s]+$'::text) AND ((email)::text = lower((email)::text)))),
    ADD CONSTRAINT leads_external_id_length CHECK (((length(external_id) >= 1) AND (length(external_id) <= 200))),
    ADD CONSTRAINT leads_first_name_printable CHECK ((((first_name)::text !~ '^[[:space:]]*$'::text) AND ((first_name)::text !~ '[\x01-\x1f\x7f-\x9f]'::text))),
    ADD CONSTRAINT leads_last_name_printable CHECK ((((last_name)::text !~ '^[[:space:]]*$'::text) AND ((last_name)::text !~ '[\x01-\x1f\x7f-\x9f]'::text))),
    ADD CONSTRAINT leads_phone_e164 CHECK (((phone)::text ~ '^\+[1-9][0-9]{6,14}$'::text)),
    ADD CONSTRAINT leads_unmatched_input_object CHECK ((jsonb_typeof(unmatched_input) = 'object'::text)),
    ADD CONSTRAINT leads_utm_campaign_length CHECK ((length(utm_campaign) <= 200)),
    ADD CONSTRAINT leads_utm_medium_length CHECK ((length(utm_medium) <= 200)),
    ADD CONSTRAINT leads_utm_source_length CHECK ((length(utm_source) <= 200)),
    ADD CONSTRAINT leads_version_positive CHECK ((version > 0));
DROP DOMAIN crm.leads_budget_max;
DROP DOMAIN crm.leads_budget_min;
DROP DOMAIN crm.leads_campaign_id;
DROP DOMAIN crm.leads_email;
DROP DOMAIN crm.leads_external_id;
DROP DOMAIN crm.leads_first_name;
DROP DOMAIN crm.leads_last_name;
DROP DOMAIN crm.leads_phone;
DROP DOMAIN crm.leads_unmatched_input;
DROP DOMAIN crm.leads_utm_campaign;
DROP DOMAIN crm.leads_utm_medium;
DROP DOMAIN crm.leads_utm_source;
DROP DOMAIN crm.leads_version;
DROP DOMAIN crm.agents_active_leads;
DROP DOMAIN crm.agents_email;
DROP DOMAIN crm.agents_full_name;
DROP DOMAIN crm.agents_max_active_leads;
DROP DOMAIN crm.agents_pause_reason;
DROP DOMAIN crm.agents_performance_score;
DROP DOMAIN crm.agents_phone;
DROP DOMAIN crm.lead_assignments_offer_round;
DROP DOMAIN crm.follow_up_tasks_notes;
DROP DOMAIN crm.outbox_events_data;
