-- 0029 the analytics snapshot keeps each lead's weekday and hour of capture in the timezone setting
-- (created_isodow, created_hour), computed once per refresh: reporting.speed_to_lead groups a million leads by them,
-- and converting every capture time to local time on every read cost more than half a second at 1M leads (issue 16,
-- docs/benchmarks.md "Speed to lead at scale"). As in 0016 and 0020, the timezone is read by a subquery: the
-- snapshot must not depend on the function layer. reporting.lead_facts() and the views over it go with it (CASCADE);
-- the function files re-create them.
DROP MATERIALIZED VIEW reporting.lead_facts_snapshot CASCADE;
CREATE MATERIALIZED VIEW reporting.lead_facts_snapshot AS
SELECT l.lead_id, l.source_type, l.property_type, l.status, a.agent_id, a.assigned_at, l.created_at,
       date_trunc('month', l.created_at AT TIME ZONE (SELECT s.value #>> '{}' FROM crm.settings AS s WHERE s.setting_key = 'timezone'))::date
           AS created_month,
       extract(isodow FROM l.created_at AT TIME ZONE (SELECT s.value #>> '{}' FROM crm.settings AS s WHERE s.setting_key = 'timezone'))::smallint AS created_isodow,
       extract(hour FROM l.created_at AT TIME ZONE (SELECT s.value #>> '{}' FROM crm.settings AS s WHERE s.setting_key = 'timezone'))::smallint AS created_hour,
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
    'Every lead with its current agent and when that assignment began, month, weekday and hour of capture (in the '
    'timezone setting), '
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
