-- reporting.invariant_violations: every broken rule in one place. Empty in a healthy database.

-- reporting.capture_score_mismatches(): captured leads whose stored capture score is not what the scoring rules give
-- for the inputs they were captured with. "Captured with": the lead as its INSERT audit row (crm.lead_audit, written by
-- leads_40_audit in the inserting transaction) holds it, because an agent may later edit a lead's budget, nationality
-- or property type (the capture score stays what it was: later changes move leads.score through activities, never
-- the capture score). "Stored capture score": the score the lead was inserted with (that audit row) and its per-rule
-- breakdown (leads.score_breakdown, which nothing but capture writes). "What the rules give": crm.capture_score over
-- those inputs, under the rules as they are now; the rules keep no history, so only leads captured after the latest
-- edit of a scoring rule or a source (their updated_at) are checked, and a lead captured before a manager's edit is
-- not held to the new rules. Out of reach: leads with no INSERT audit row (an import with triggers off, as
-- db/scale/generate.sql does), and an edit of crm.countries.is_gcc or a deleted rule row (no timestamp to compare).
CREATE OR REPLACE FUNCTION reporting.capture_score_mismatches()
RETURNS TABLE (lead_id uuid, detail jsonb)
LANGUAGE plpgsql
STABLE
SECURITY DEFINER
SET search_path = ''
AS $$
#variable_conflict use_column
DECLARE
    v_policy_changed_at timestamptz := greatest((SELECT max(r.updated_at) FROM crm.lead_scoring_rules AS r),
                                                (SELECT max(s.updated_at) FROM crm.lead_sources AS s));
BEGIN
    RETURN QUERY
    SELECT c.lead_id,
           pg_catalog.jsonb_build_object('captured_score', (c.captured).score, 'rules_score', (r.scored ->> 'score')::integer,
                                         'stored_breakdown', l.score_breakdown, 'rules_breakdown', r.scored -> 'breakdown')
      FROM (SELECT a.lead_id, pg_catalog.jsonb_populate_record(NULL::crm.leads, a.new_values) AS captured
              FROM crm.lead_audit AS a
             WHERE a.operation = 'INSERT' AND a.changed_at > v_policy_changed_at) AS c
      JOIN crm.leads AS l ON l.lead_id = c.lead_id
     CROSS JOIN LATERAL (SELECT crm.capture_score(c.captured) AS scored) AS r
     WHERE (c.captured).score IS DISTINCT FROM (r.scored ->> 'score')::integer
        OR l.score_breakdown IS DISTINCT FROM r.scored -> 'breakdown';
END
$$;
COMMENT ON FUNCTION reporting.capture_score_mismatches() IS
    'Captured leads whose capture score (the score they were inserted with, and leads.score_breakdown) differs from '
    'crm.capture_score over the inputs of their INSERT audit row; leads captured before the latest edit of a scoring rule '
    'or a source are not checked. One row per lead with both scores and both breakdowns. The rule capture_score_mismatch '
    'of reporting.invariant_violations. SECURITY DEFINER: reads crm (the audit trail, the rules) on behalf of the BI '
    'login, which may read reporting only.';

CREATE OR REPLACE VIEW reporting.invariant_violations AS
WITH real_counts AS (
    SELECT a.agent_id, count(*) AS real_active
      FROM crm.lead_assignments AS a
      JOIN crm.leads AS l USING (lead_id)
     WHERE a.released_at IS NULL AND NOT crm.is_closed(l.status)
     GROUP BY a.agent_id
), horizon AS (   -- no business time lies beyond now plus the clock-skew allowance (read directly, like the 30 days below)
    SELECT now() + coalesce((SELECT (s.value #>> '{}')::interval FROM crm.settings AS s
                              WHERE s.setting_key = 'future_timestamp_allowance'), interval '5 minutes') AS at
), first_contacts AS (   -- each lead's earliest agent interaction
    SELECT a.lead_id, min(a.occurred_at) AS first_at
      FROM crm.lead_activities AS a
     WHERE a.agent_id IS NOT NULL
       AND a.activity_type IN (SELECT t.t FROM unnest(pg_catalog.enum_range(NULL::crm.activity_type)) AS t (t)
                                WHERE crm.is_agent_interaction(t.t))
     GROUP BY a.lead_id
)
SELECT 'agent_over_capacity'::text AS rule, 'agent'::text AS entity, g.agent_id::text AS entity_id,
       pg_catalog.jsonb_build_object('active_leads', g.active_leads, 'max_active_leads', g.max_active_leads) AS detail
  FROM crm.agents AS g
 WHERE g.active_leads > g.max_active_leads OR g.active_leads > 50
UNION ALL
SELECT 'agent_counter_mismatch', 'agent', g.agent_id::text,
       pg_catalog.jsonb_build_object('active_leads', g.active_leads, 'real_count', coalesce(r.real_active, 0))
  FROM crm.agents AS g
  LEFT JOIN real_counts AS r USING (agent_id)
 WHERE g.active_leads <> coalesce(r.real_active, 0)
UNION ALL
SELECT 'lead_unassigned_not_queued', 'lead', l.lead_id::text, pg_catalog.jsonb_build_object('status', l.status)
  FROM crm.leads AS l
 WHERE NOT crm.is_closed(l.status) AND l.queued_at IS NULL AND l.pooled_at IS NULL
   AND NOT EXISTS (SELECT 1 FROM crm.lead_assignments AS a WHERE a.lead_id = l.lead_id AND a.released_at IS NULL)
UNION ALL
SELECT 'lead_assigned_and_queued', 'lead', l.lead_id::text, pg_catalog.jsonb_build_object('queued_at', l.queued_at)
  FROM crm.leads AS l
 WHERE l.queued_at IS NOT NULL
   AND EXISTS (SELECT 1 FROM crm.lead_assignments AS a WHERE a.lead_id = l.lead_id AND a.released_at IS NULL)
UNION ALL
SELECT 'lead_pooled_and_assigned', 'lead', l.lead_id::text, pg_catalog.jsonb_build_object('pooled_at', l.pooled_at)
  FROM crm.leads AS l
 WHERE l.pooled_at IS NOT NULL
   AND (l.queued_at IS NOT NULL
        OR EXISTS (SELECT 1 FROM crm.lead_assignments AS a WHERE a.lead_id = l.lead_id AND a.released_at IS NULL))
UNION ALL
SELECT 'offer_overdue', 'lead_assignment', a.assignment_id::text,
       pg_catalog.jsonb_build_object('lead_id', a.lead_id, 'agent_id', a.agent_id, 'respond_by', a.respond_by)
  FROM crm.lead_assignments AS a
 WHERE a.released_at IS NULL AND a.accepted_at IS NULL AND a.respond_by < now() - interval '1 minute'
   AND NOT EXISTS (SELECT 1 FROM crm.leads AS l WHERE l.lead_id = a.lead_id AND crm.is_closed(l.status))
UNION ALL
SELECT 'offer_to_unavailable_agent', 'lead_assignment', a.assignment_id::text,
       pg_catalog.jsonb_build_object('lead_id', a.lead_id, 'agent_id', a.agent_id, 'absence_id', b.absence_id)
  FROM crm.lead_assignments AS a
  JOIN crm.agent_absences AS b ON b.agent_id = a.agent_id AND b.period @> a.assigned_at AND b.created_at <= a.assigned_at
 WHERE a.respond_by IS NOT NULL
UNION ALL
SELECT 'lead_multiple_open_assignments', 'lead', a.lead_id::text, pg_catalog.jsonb_build_object('open_assignments', count(*))
  FROM crm.lead_assignments AS a
 WHERE a.released_at IS NULL
 GROUP BY a.lead_id
HAVING count(*) > 1
UNION ALL
SELECT 'follow_up_overdue_unescalated', 'follow_up_task', t.task_id::text,
       pg_catalog.jsonb_build_object('due_at', t.due_at, 'agent_id', t.agent_id)
  FROM crm.follow_up_tasks AS t
 WHERE t.status = 'open' AND t.escalated_at IS NULL
   AND t.due_at < now() - coalesce((SELECT (s.value #>> '{}')::interval FROM crm.settings AS s
                                      WHERE s.setting_key = 'follow_up_escalate_after'), interval '30 days')
UNION ALL
SELECT 'status_history_illegal_step', 'lead', h.lead_id::text,
       pg_catalog.jsonb_build_object('history_id', h.history_id, 'from', h.from_status, 'to', h.to_status)
  FROM crm.lead_conversion_history AS h
 WHERE (h.from_status IS NULL AND h.to_status <> 'new')
    OR (h.from_status IS NOT NULL AND NOT EXISTS (
           SELECT 1 FROM crm.lead_status_transitions AS t
            WHERE t.from_status = h.from_status AND t.to_status = h.to_status))
UNION ALL
SELECT 'lead_status_differs_from_history', 'lead', l.lead_id::text,
       pg_catalog.jsonb_build_object('status', l.status, 'last_history', last.to_status)
  FROM crm.leads AS l
  LEFT JOIN LATERAL (
        SELECT h.to_status FROM crm.lead_conversion_history AS h
         WHERE h.lead_id = l.lead_id ORDER BY h.history_id DESC LIMIT 1) AS last ON true
 WHERE last.to_status IS DISTINCT FROM l.status
UNION ALL
SELECT 'closed_lead_open_follow_up', 'follow_up_task', t.task_id::text,
       pg_catalog.jsonb_build_object('lead_id', t.lead_id, 'status', l.status)
  FROM crm.follow_up_tasks AS t
  JOIN crm.leads AS l ON l.lead_id = t.lead_id
 WHERE t.status = 'open' AND crm.is_closed(l.status)
UNION ALL
SELECT 'agent_profile_mismatch', 'agent', g.agent_id::text,
       pg_catalog.jsonb_build_object('property_types', g.property_types, 'area_codes', g.area_codes,
                                     'languages', g.languages)
  FROM crm.agents AS g
 WHERE g.property_types <> coalesce((SELECT pg_catalog.array_agg(t.property_type ORDER BY t.property_type)
                                       FROM crm.agent_property_types AS t WHERE t.agent_id = g.agent_id), '{}')
    OR g.area_codes <> coalesce((SELECT pg_catalog.array_agg(a.area_code ORDER BY a.area_code)
                                   FROM crm.agent_areas AS a WHERE a.agent_id = g.agent_id), '{}')
    OR g.languages <> coalesce((SELECT pg_catalog.array_agg(l.language ORDER BY l.language)
                                  FROM crm.agent_languages AS l WHERE l.agent_id = g.agent_id), '{}')
UNION ALL
SELECT 'agent_routing_mismatch', 'agent', g.agent_id::text,
       pg_catalog.jsonb_build_object('routing_profile_id', g.routing_profile_id, 'base_points', g.base_points,
                                     'derived_base_points', w.performance_points + w.workload_points)
  FROM crm.agents AS g
  LEFT JOIN crm.routing_profiles AS r ON r.profile_id = g.routing_profile_id
 CROSS JOIN LATERAL crm.agent_points(g.performance_score, g.active_leads, g.max_active_leads,
                                     (SELECT s.value FROM crm.settings AS s WHERE s.setting_key = 'assignment_weights')) AS w
 WHERE (r.property_types, r.area_codes, r.languages) IS DISTINCT FROM (g.property_types, g.area_codes, g.languages)
    OR abs(g.base_points - (w.performance_points + w.workload_points)) > 1e-9
UNION ALL
SELECT 'routing_profile_count_mismatch', 'routing_profile', r.profile_id::text,
       pg_catalog.jsonb_build_object('eligible_agents', r.eligible_agents, 'real_count', count(g.agent_id))
  FROM crm.routing_profiles AS r
  LEFT JOIN crm.agents AS g ON g.routing_profile_id = r.profile_id AND g.is_active AND g.role = 'agent'
                           AND g.active_leads < g.max_active_leads
 GROUP BY r.profile_id
HAVING r.eligible_agents <> count(g.agent_id)
UNION ALL
SELECT 'capture_score_mismatch', 'lead', m.lead_id::text, m.detail
  FROM reporting.capture_score_mismatches() AS m
UNION ALL
SELECT 'business_timestamp_in_future', 'lead', l.lead_id::text,
       pg_catalog.jsonb_strip_nulls(pg_catalog.jsonb_build_object(
           'created_at', nullif(l.created_at, least(l.created_at, h.at)),
           'first_contacted_at', nullif(l.first_contacted_at, least(l.first_contacted_at, h.at)),
           'last_activity_at', nullif(l.last_activity_at, least(l.last_activity_at, h.at)),
           'closed_at', nullif(l.closed_at, least(l.closed_at, h.at))))
  FROM crm.leads AS l CROSS JOIN horizon AS h
 WHERE greatest(l.created_at, l.first_contacted_at, l.last_activity_at, l.closed_at) > h.at
UNION ALL
SELECT 'business_timestamp_in_future', 'activity', a.activity_id::text,
       pg_catalog.jsonb_build_object('lead_id', a.lead_id, 'occurred_at', a.occurred_at)
  FROM crm.lead_activities AS a CROSS JOIN horizon AS h
 WHERE a.occurred_at > h.at
UNION ALL
SELECT 'business_timestamp_in_future', 'status_history', x.history_id::text,
       pg_catalog.jsonb_build_object('lead_id', x.lead_id, 'to', x.to_status, 'changed_at', x.changed_at)
  FROM crm.lead_conversion_history AS x CROSS JOIN horizon AS h
 WHERE x.changed_at > h.at
UNION ALL
SELECT 'business_timestamp_in_future', 'assignment', a.assignment_id::text,
       pg_catalog.jsonb_strip_nulls(pg_catalog.jsonb_build_object(
           'lead_id', a.lead_id,
           'assigned_at', nullif(a.assigned_at, least(a.assigned_at, h.at)),
           'first_activity_at', nullif(a.first_activity_at, least(a.first_activity_at, h.at)),
           'released_at', nullif(a.released_at, least(a.released_at, h.at))))
  FROM crm.lead_assignments AS a CROSS JOIN horizon AS h
 WHERE greatest(a.assigned_at, a.first_activity_at, a.released_at) > h.at
UNION ALL
SELECT 'business_timestamp_in_future', 'follow_up_task', t.task_id::text,
       pg_catalog.jsonb_strip_nulls(pg_catalog.jsonb_build_object(
           'lead_id', t.lead_id,
           'completed_at', nullif(t.completed_at, least(t.completed_at, h.at)),
           'escalated_at', nullif(t.escalated_at, least(t.escalated_at, h.at))))
  FROM crm.follow_up_tasks AS t CROSS JOIN horizon AS h
 WHERE greatest(t.completed_at, t.escalated_at) > h.at
UNION ALL
SELECT 'first_contact_mismatch', 'lead', l.lead_id::text,
       pg_catalog.jsonb_build_object('first_contacted_at', l.first_contacted_at, 'first_contact_activity', c.first_at)
  FROM crm.leads AS l
  LEFT JOIN first_contacts AS c ON c.lead_id = l.lead_id
 WHERE l.first_contacted_at IS DISTINCT FROM c.first_at;

COMMENT ON VIEW reporting.invariant_violations IS
    'One row per broken business rule (rule, entity, entity_id, detail): agents over capacity or with a wrong counter, '
    'open leads neither assigned nor queued, assigned leads still queued, two open assignments, open follow-ups overdue past '
    'the escalation threshold without escalation, open follow-ups of closed leads, illegal steps in the status history, a routing profile that differs '
    'from the specialisation tables, routing columns of an agent that are not derived from its row (its profile row, '
    'its base points under assignment_weights) or a profile''s eligible count that is not its agents'', a capture score that is not what the scoring rules give for the lead''s captured '
    'inputs (reporting.capture_score_mismatches), a business time (capture, contact, activity, status change, '
    'assignment, completion, escalation) later than now plus future_timestamp_allowance, a first_contacted_at that is '
    'not the lead''s earliest agent interaction. Must be empty. '
    'Example: SELECT rule, count(*) FROM reporting.invariant_violations GROUP BY rule;';

-- (the columns' base types, not their domains, migration 0033: a BI tool reads plain types)
CREATE OR REPLACE VIEW reporting.agent_workload AS
SELECT g.agent_id, g.full_name::varchar(200) AS full_name, g.role, g.is_active, g.active_leads::integer AS active_leads,
       g.max_active_leads::smallint AS max_active_leads,
       g.max_active_leads - g.active_leads AS free_capacity,
       round(100.0 * g.active_leads / nullif(g.max_active_leads, 0), 1) AS utilisation_pct,
       g.last_assigned_at
  FROM crm.agents AS g;
COMMENT ON VIEW reporting.agent_workload IS
    'Current workload per agent: active leads, capacity, free slots and utilisation %. '
    'Example: SELECT * FROM reporting.agent_workload WHERE utilisation_pct >= 90 ORDER BY utilisation_pct DESC;';
