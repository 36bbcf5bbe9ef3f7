-- 0020 one response time, the assignment's. An agent is measured from the moment a lead was assigned to them to
-- their own first contact on it, never from the lead's capture: an agent who takes a lead over does not inherit
-- the delay of the agent before (issue 19). The rule is a generated column of crm.lead_assignments, so the dashboard,
-- the monthly metrics and the analytics snapshot read one definition instead of each computing its own. The lead's
-- own time to first contact (capture to the first contact by anyone) stays crm.leads.response_seconds.
ALTER TABLE crm.lead_assignments
    ADD COLUMN response_seconds integer GENERATED ALWAYS AS (
        CASE WHEN first_activity_at IS NOT NULL
             THEN greatest(0, extract(epoch FROM first_activity_at - assigned_at))::integer END) STORED;
COMMENT ON COLUMN crm.lead_assignments.response_seconds IS
    'The agent''s response time on this lead: seconds from assigned_at to first_activity_at (the agent''s first contact '
    'while holding it; 0 when that contact was dated before the assignment); NULL until they make contact. Generated: '
    'the one definition the dashboard, the monthly metrics and the reports read.';
COMMENT ON COLUMN crm.leads.response_seconds IS
    'The lead''s time to first contact: seconds from its capture to the first agent interaction on it, by anyone. Not an '
    'agent''s response time (that is crm.lead_assignments.response_seconds, from the assignment).';
COMMENT ON COLUMN crm.leads.first_contacted_at IS
    'Time of the earliest agent interaction on the lead (reporting.invariant_violations rule first_contact_mismatch).';

-- the analytics snapshot again, with both figures under names that say which is which (agent_response_seconds of the
-- lead's current assignment, first_contact_seconds of the lead), the assignment's start, and the keys the two REST
-- lists page by (capture score or deal value, then lead_id: a unique order for a keyset cursor). Its month still
-- reads the timezone setting by a subquery (see 0016: the snapshot must not depend on the function layer).
-- reporting.lead_facts() and the views over it depend on its row type and go with it; the function files re-create them.
DROP MATERIALIZED VIEW reporting.lead_facts_snapshot CASCADE;
CREATE MATERIALIZED VIEW reporting.lead_facts_snapshot AS
SELECT l.lead_id, l.source_type, l.property_type, l.status, a.agent_id, a.assigned_at, l.created_at,
       date_trunc('month', l.created_at AT TIME ZONE (SELECT s.value #>> '{}' FROM crm.settings AS s WHERE s.setting_key = 'timezone'))::date
           AS created_month,
       l.closed_at, l.status = 'converted' AS converted, l.status = 'lost' AS lost, l.deal_value_aed,
       l.score::integer AS score,
       least(100, greatest(0, round(coalesce((SELECT sum((b ->> 'points')::numeric)
                                                FROM jsonb_array_elements(l.score_breakdown) AS b), 0))))::integer
           AS capture_score,
       a.response_seconds AS agent_response_seconds, l.response_seconds AS first_contact_seconds, l.lost_reason
  FROM crm.leads AS l
  LEFT JOIN crm.lead_assignments AS a ON a.lead_id = l.lead_id AND a.released_at IS NULL
WITH DATA;
COMMENT ON MATERIALIZED VIEW reporting.lead_facts_snapshot IS
    'Every lead with its current agent and when that assignment began, month of capture (in the timezone setting), '
    'outcome, close time, deal value, current and capture score, the agent''s response seconds (assignment to their '
    'first contact), the lead''s first-contact seconds (capture to the first contact by anyone) and lost reason, as of '
    'reporting.analytics_freshness.refreshed_at (the sweep refreshes it every analytics_refresh_interval). The Task 4 '
    'reports aggregate this; read it through reporting.lead_facts(). docs/analytics.md defines each figure.';
CREATE UNIQUE INDEX lead_facts_snapshot_lead_idx ON reporting.lead_facts_snapshot (lead_id);
CREATE INDEX lead_facts_snapshot_created_idx ON reporting.lead_facts_snapshot (created_at);
CREATE INDEX lead_facts_snapshot_closed_idx ON reporting.lead_facts_snapshot (closed_at) WHERE closed_at IS NOT NULL;
CREATE INDEX lead_facts_snapshot_high_score_idx ON reporting.lead_facts_snapshot (capture_score DESC, created_at, lead_id)
    WHERE NOT converted;
CREATE INDEX lead_facts_snapshot_converted_idx ON reporting.lead_facts_snapshot
    ((coalesce(deal_value_aed, 0)) DESC, lead_id) WHERE converted;
GRANT SELECT ON reporting.lead_facts_snapshot TO thinkrealty_reporting;
