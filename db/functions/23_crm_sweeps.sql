-- The sweeps: every time-based rule, run by jobs.run_sweeps(p_now) once a minute (the app's background task, or
-- `crmctl sweep` from cron). Every rule takes p_now, so tests move the clock instead of sleeping, and each
-- is idempotent: a second run at the same p_now changes nothing.

-- crm.sweep_escalations(now): open follow-ups overdue by more than follow_up_escalate_after (30 days) go to the
-- agent's supervisor when active, else to the active supervisor with the fewest escalations in the last 30 days.
-- Each gets escalated_at/escalated_to, a crm.follow_up_escalations row and an 'escalation' activity on the lead.
CREATE OR REPLACE FUNCTION crm.sweep_escalations(p_now timestamptz)
RETURNS integer
LANGUAGE plpgsql
SET search_path = ''
AS $$
DECLARE
    v_task crm.follow_up_tasks;
    v_to   uuid;
    v_done integer := 0;
BEGIN
    FOR v_task IN
        SELECT t.* FROM crm.follow_up_tasks AS t
         WHERE t.status = 'open' AND t.escalated_at IS NULL
           AND t.due_at < p_now - crm.setting_interval('follow_up_escalate_after')
         ORDER BY t.due_at
           FOR UPDATE SKIP LOCKED
    LOOP
        SELECT s.agent_id INTO v_to
          FROM crm.agents AS g JOIN crm.agents AS s ON s.agent_id = g.supervisor_id
         WHERE g.agent_id = v_task.agent_id AND s.is_active;
        IF v_to IS NULL THEN
            SELECT s.agent_id INTO v_to
              FROM crm.agents AS s
             WHERE s.role = 'supervisor' AND s.is_active AND s.agent_id <> v_task.agent_id
             ORDER BY (SELECT count(*) FROM crm.follow_up_escalations AS e
                        WHERE e.escalated_to = s.agent_id AND e.escalated_at > p_now - interval '30 days'), s.agent_id
             LIMIT 1;
        END IF;
        CONTINUE WHEN v_to IS NULL;   -- no supervisor at all: reporting.invariant_violations keeps showing it
        UPDATE crm.follow_up_tasks SET escalated_at = p_now, escalated_to = v_to WHERE task_id = v_task.task_id;
        INSERT INTO crm.follow_up_escalations (task_id, escalated_to, overdue_by, reason, escalated_at)
        VALUES (v_task.task_id, v_to, p_now - v_task.due_at,
                'Follow-up overdue by more than ' || (crm.setting('follow_up_escalate_after') #>> '{}'), p_now);
        INSERT INTO crm.lead_activities (lead_id, activity_type, notes, details, occurred_at)
        VALUES (v_task.lead_id, 'escalation', 'Overdue follow-up escalated to a supervisor',
                pg_catalog.jsonb_build_object('task_id', v_task.task_id, 'agent_id', v_task.agent_id,
                                              'escalated_to', v_to, 'due_at', v_task.due_at), p_now);
        v_done := v_done + 1;
    END LOOP;
    RETURN v_done;
END
$$;
COMMENT ON FUNCTION crm.sweep_escalations(timestamptz) IS
    'Escalates open follow-ups overdue by more than follow_up_escalate_after: to the agent''s active supervisor, else the '
    'active supervisor with the fewest recent escalations. Returns the number escalated.';

-- crm.sweep_unresponsive(now, limit): an open lead whose current agent has done nothing on it within
-- no_response_reassign_after (24 h) of being assigned goes to the best other agent (kind auto_reassign_no_response).
CREATE OR REPLACE FUNCTION crm.sweep_unresponsive(p_now timestamptz, p_limit integer DEFAULT 500)
RETURNS integer
LANGUAGE plpgsql
SET search_path = ''
AS $$
DECLARE
    v_lead uuid;
    v_done integer := 0;
BEGIN
    FOR v_lead IN
        SELECT l.lead_id
          FROM crm.lead_assignments AS a
          JOIN crm.leads AS l ON l.lead_id = a.lead_id
         WHERE a.released_at IS NULL AND a.first_activity_at IS NULL
           AND a.assigned_at < p_now - crm.setting_interval('no_response_reassign_after')
           AND NOT crm.is_closed(l.status)
         ORDER BY a.assigned_at
         LIMIT p_limit
           FOR UPDATE OF l SKIP LOCKED
    LOOP
        IF (crm.reassign_lead(v_lead, 'auto_reassign_no_response',
                              'no agent activity within ' || (crm.setting('no_response_reassign_after') #>> '{}'),
                              NULL, p_now, false) ->> 'to_agent_id') IS NOT NULL THEN
            v_done := v_done + 1;
        END IF;
    END LOOP;
    RETURN v_done;
END
$$;
COMMENT ON FUNCTION crm.sweep_unresponsive(timestamptz, integer) IS
    'Reassigns open leads with no activity by their agent within no_response_reassign_after of assignment to the best '
    'other agent (none free: they stay). Returns the number moved.';

-- crm.sweep_decay(now, limit): the no-response penalty (rule activity_no_response, -10) for an assigned open lead
-- silent (no activity but bookkeeping) for no_response_decay_after (7 days), once per silence: last_decay_at
-- remembers it, and only a new activity starts a new silence.
CREATE OR REPLACE FUNCTION crm.sweep_decay(p_now timestamptz, p_limit integer DEFAULT 1000)
RETURNS integer
LANGUAGE plpgsql
SET search_path = ''
AS $$
DECLARE
    v_points integer;
    v_lead   record;
    v_delta  integer;
    v_done   integer := 0;
BEGIN
    SELECT r.points::integer INTO v_points FROM crm.lead_scoring_rules AS r
     WHERE r.is_active AND r.factor = 'activity' AND r.match_value = 'no_response_7d';
    IF v_points IS NULL THEN
        RETURN 0;   -- the rule is switched off
    END IF;
    FOR v_lead IN
        SELECT l.lead_id, coalesce(l.last_activity_at, l.created_at) AS silent_since, a.agent_id
          FROM crm.leads AS l
          JOIN crm.lead_assignments AS a ON a.lead_id = l.lead_id AND a.released_at IS NULL
         WHERE NOT crm.is_closed(l.status)
           AND coalesce(l.last_activity_at, l.created_at) < p_now - crm.setting_interval('no_response_decay_after')
           AND (l.last_decay_at IS NULL OR l.last_decay_at < coalesce(l.last_activity_at, l.created_at))
         LIMIT p_limit
           FOR UPDATE OF l SKIP LOCKED
    LOOP
        v_delta := crm.adjust_score(v_lead.lead_id, v_points);
        UPDATE crm.leads SET last_decay_at = p_now WHERE lead_id = v_lead.lead_id;
        INSERT INTO crm.lead_activities (lead_id, activity_type, notes, score_delta, details, occurred_at)
        VALUES (v_lead.lead_id, 'score_change', 'No response for ' || (crm.setting('no_response_decay_after') #>> '{}'),
                v_delta, pg_catalog.jsonb_build_object('rule', 'activity_no_response', 'points', v_points,
                                                      'silent_since', v_lead.silent_since), p_now);
        v_done := v_done + 1;
    END LOOP;
    RETURN v_done;
END
$$;
COMMENT ON FUNCTION crm.sweep_decay(timestamptz, integer) IS
    'Applies the no_response_7d penalty once per silence to assigned open leads silent for no_response_decay_after '
    '(leads.last_decay_at). Returns the number of leads charged.';

-- crm.sweep_workload_balance(now): agents above workload_balance_threshold (45) hand their untouched leads
-- (status new, never contacted, newest first) to the best ranked agent that stays at or below the threshold.
CREATE OR REPLACE FUNCTION crm.sweep_workload_balance(p_now timestamptz)
RETURNS integer
LANGUAGE plpgsql
SET search_path = ''
AS $$
DECLARE
    v_threshold integer := (crm.setting('workload_balance_threshold') #>> '{}')::integer;
    v_minute    integer := crm.minute_of_week(p_now);
    v_office    int4multirange := crm.office_week();
    v_agent     record;
    v_lead      crm.leads;
    v_to        uuid;
    v_done      integer := 0;
BEGIN
    FOR v_agent IN
        SELECT g.agent_id, g.active_leads - v_threshold AS excess
          FROM crm.agents AS g WHERE g.active_leads > v_threshold ORDER BY g.active_leads DESC
    LOOP
        FOR v_lead IN
            SELECT l.* FROM crm.leads AS l
              JOIN crm.lead_assignments AS a ON a.lead_id = l.lead_id AND a.released_at IS NULL
             WHERE a.agent_id = v_agent.agent_id AND l.status = 'new' AND l.first_contacted_at IS NULL
             ORDER BY l.created_at DESC
             LIMIT v_agent.excess
               FOR UPDATE OF l SKIP LOCKED
        LOOP
            SELECT r.agent_id INTO v_to   -- the best ranked below the threshold and available now (crm.agent_free)
              FROM crm.rank_agents(v_lead.property_type,
                                   ARRAY(SELECT p.area_code FROM crm.lead_preferred_areas AS p WHERE p.lead_id = v_lead.lead_id),
                                   v_lead.language_preference) AS r
              JOIN crm.agents AS g ON g.agent_id = r.agent_id
             WHERE r.agent_id <> v_agent.agent_id AND r.active_leads < v_threshold
               AND crm.agent_free(g, p_now, v_minute, v_office)
             ORDER BY r.rank
             LIMIT 1;
            EXIT WHEN v_to IS NULL;   -- everyone else is near the threshold too: balancing cannot help
            PERFORM crm.reassign_lead(v_lead.lead_id, 'workload_balance',
                                      'agent above ' || v_threshold || ' active leads', v_to, p_now, false);
            v_done := v_done + 1;
        END LOOP;
    END LOOP;
    RETURN v_done;
END
$$;
COMMENT ON FUNCTION crm.sweep_workload_balance(timestamptz) IS
    'Moves untouched new leads from agents above workload_balance_threshold to the best ranked agents below it who are '
    'available now (crm.agent_free; none: the lead stays). Returns the number moved.';
