-- 0020 rolled back: the snapshot as 0016 made it (the lead's response_seconds, no assignment figures), then the
-- generated column goes.
DROP MATERIALIZED VIEW reporting.lead_facts_snapshot CASCADE;
CREATE MATERIALIZED VIEW reporting.lead_facts_snapshot AS
SELECT l.lead_id, l.source_type, l.property_type, l.status, a.agent_id, l.created_at,
       date_trunc('month', l.created_at AT TIME ZONE (SELECT s.value #>> '{}' FROM crm.settings AS s WHERE s.setting_key = 'timezone'))::date
           AS created_month,
       l.closed_at, l.status = 'converted' AS converted, l.status = 'lost' AS lost, l.deal_value_aed,
       l.score::integer AS score,
       least(100, greatest(0, round(coalesce((SELECT sum((b ->> 'points')::numeric)
                                                FROM jsonb_array_elements(l.score_breakdown) AS b), 0))))::integer
           AS capture_score,
       l.response_seconds, l.lost_reason
  FROM crm.leads AS l
  LEFT JOIN crm.lead_assignments AS a ON a.lead_id = l.lead_id AND a.released_at IS NULL
WITH DATA;
COMMENT ON MATERIALIZED VIEW reporting.lead_facts_snapshot IS
    'Every lead with its current agent, month of capture (in the timezone setting), outcome, deal value, current and capture score, '
    'first-response seconds and lost reason, as of reporting.analytics_freshness.refreshed_at (the sweep refreshes it '
    'every analytics_refresh_interval). The Task 4 reports aggregate this; read it through reporting.lead_facts().';
CREATE UNIQUE INDEX lead_facts_snapshot_lead_idx ON reporting.lead_facts_snapshot (lead_id);
CREATE INDEX lead_facts_snapshot_created_idx ON reporting.lead_facts_snapshot (created_at);
CREATE INDEX lead_facts_snapshot_high_score_idx ON reporting.lead_facts_snapshot (capture_score DESC, created_at)
    WHERE NOT converted;
CREATE INDEX lead_facts_snapshot_converted_idx ON reporting.lead_facts_snapshot (deal_value_aed DESC NULLS LAST)
    WHERE converted;
GRANT SELECT ON reporting.lead_facts_snapshot TO thinkrealty_reporting;

COMMENT ON COLUMN crm.leads.response_seconds IS 'Seconds from lead creation to the first agent activity (response time).';
COMMENT ON COLUMN crm.leads.first_contacted_at IS 'Time of the first agent activity on the lead.';
ALTER TABLE crm.lead_assignments DROP COLUMN response_seconds;
