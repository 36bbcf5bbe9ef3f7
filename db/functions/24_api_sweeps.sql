-- The sweeps: every time-based rule, run by jobs.run_sweeps(p_now) once a minute (the app's background task, or
-- `python -m api sweep` from cron). Every rule takes p_now, so tests move the clock instead of sleeping, and each
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
            SELECT r.agent_id INTO v_to
              FROM crm.rank_agents(v_lead.property_type,
                                   ARRAY(SELECT p.area_code FROM crm.lead_preferred_areas AS p WHERE p.lead_id = v_lead.lead_id),
                                   v_lead.language_preference) AS r
             WHERE r.agent_id <> v_agent.agent_id AND r.active_leads < v_threshold
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
    'Moves untouched new leads from agents above workload_balance_threshold to the best ranked agents below it. '
    'Returns the number moved.';

-- crm.refresh_performance_metrics(now): recomputes crm.agent_performance_metrics for the current month and the
-- three before it (Asia/Dubai; the dashboard's 90-day rank reads them) and each agent's performance_score over the
-- window of the setting performance_score (90 days as shipped):
--   conversion_weight (0.6) x conversion rate (crm.conversion_rate; neutral 50 when nothing closed)
-- + response_weight (0.4) x response score (100 at an immediate first response, falling linearly to 0 at
--   response_zero_after, 48 hours; neutral 50 when none).
CREATE OR REPLACE FUNCTION crm.refresh_performance_metrics(p_now timestamptz)
RETURNS integer
LANGUAGE plpgsql
SET search_path = ''
AS $$
DECLARE
    v_tz    text := crm.setting('timezone') #>> '{}';
    v_month date := date_trunc('month', p_now AT TIME ZONE v_tz)::date;
    v_first date := (v_month - interval '3 months')::date;
    v_since timestamptz := v_first::timestamp AT TIME ZONE v_tz;
    v_rows  integer;
    v_score jsonb := crm.setting('performance_score');
    v_conversion_weight numeric := v_score ->> 'conversion_weight';
    v_response_weight   numeric := v_score ->> 'response_weight';
    v_zero_hours        numeric := extract(epoch FROM (v_score ->> 'response_zero_after')::interval) / 3600;
    v_window            interval := (v_score ->> 'window')::interval;
    v_neutral           numeric := v_score ->> 'neutral';
BEGIN
    -- set-based: one pass over each table for the four months, grouped by agent and month
    WITH assigned AS (
        SELECT a.agent_id, date_trunc('month', a.assigned_at AT TIME ZONE v_tz)::date AS period_month, count(*) AS n
          FROM crm.lead_assignments AS a
         WHERE a.assigned_at >= v_since AND a.assigned_at <= p_now
         GROUP BY 1, 2
    ),
    contacted AS (
        SELECT a.agent_id, date_trunc('month', a.first_activity_at AT TIME ZONE v_tz)::date AS period_month, count(*) AS n,
               avg(extract(epoch FROM a.first_activity_at - a.assigned_at))
                   FILTER (WHERE a.first_activity_at >= a.assigned_at)::integer AS response
          FROM crm.lead_assignments AS a
         WHERE a.first_activity_at >= v_since AND a.first_activity_at <= p_now
         GROUP BY 1, 2
    ),
    closed AS (
        SELECT h.agent_id, date_trunc('month', h.changed_at AT TIME ZONE v_tz)::date AS period_month,
               count(*) FILTER (WHERE h.to_status = 'converted') AS won, count(*) FILTER (WHERE h.to_status = 'lost') AS lost,
               coalesce(sum(l.deal_value_aed) FILTER (WHERE h.to_status = 'converted'), 0) AS revenue
          FROM crm.lead_conversion_history AS h
          JOIN crm.leads AS l ON l.lead_id = h.lead_id
         WHERE crm.is_closed(h.to_status) AND h.changed_at >= v_since AND h.changed_at <= p_now
           AND h.agent_id IS NOT NULL
         GROUP BY 1, 2
    ),
    figures AS (
        SELECT g.agent_id, m.period_month, coalesce(s.n, 0) AS assigned, coalesce(c.n, 0) AS contacted,
               coalesce(x.won, 0) AS won, coalesce(x.lost, 0) AS lost, coalesce(x.revenue, 0) AS revenue,
               c.response
          FROM crm.agents AS g
         CROSS JOIN (SELECT pg_catalog.generate_series(v_first::timestamp, v_month::timestamp, interval '1 month')::date
                       AS period_month) AS m
          LEFT JOIN assigned AS s ON s.agent_id = g.agent_id AND s.period_month = m.period_month
          LEFT JOIN contacted AS c ON c.agent_id = g.agent_id AND c.period_month = m.period_month
          LEFT JOIN closed AS x ON x.agent_id = g.agent_id AND x.period_month = m.period_month
    )
    INSERT INTO crm.agent_performance_metrics AS x (agent_id, period_month, leads_assigned, leads_contacted, conversions,
                                                    lost, revenue_aed, avg_response_seconds, conversion_rate, computed_at)
    SELECT f.agent_id, f.period_month, f.assigned, f.contacted, f.won, f.lost, f.revenue, f.response,
           crm.conversion_rate(f.won, f.lost), p_now
      FROM figures AS f
    ON CONFLICT (agent_id, period_month) DO UPDATE
       SET leads_assigned = EXCLUDED.leads_assigned, leads_contacted = EXCLUDED.leads_contacted,
           conversions = EXCLUDED.conversions, lost = EXCLUDED.lost, revenue_aed = EXCLUDED.revenue_aed,
           avg_response_seconds = EXCLUDED.avg_response_seconds, conversion_rate = EXCLUDED.conversion_rate,
           computed_at = EXCLUDED.computed_at
     WHERE (x.leads_assigned, x.leads_contacted, x.conversions, x.lost, x.revenue_aed, x.avg_response_seconds,
            x.conversion_rate) IS DISTINCT FROM
           (EXCLUDED.leads_assigned, EXCLUDED.leads_contacted, EXCLUDED.conversions, EXCLUDED.lost, EXCLUDED.revenue_aed,
            EXCLUDED.avg_response_seconds, EXCLUDED.conversion_rate);
    GET DIAGNOSTICS v_rows = ROW_COUNT;

    WITH conversion AS (
        SELECT h.agent_id, crm.conversion_rate(count(*) FILTER (WHERE h.to_status = 'converted'),
                                               count(*) FILTER (WHERE h.to_status = 'lost')) AS rate
          FROM crm.lead_conversion_history AS h
         WHERE crm.is_closed(h.to_status) AND h.changed_at > p_now - v_window AND h.changed_at <= p_now
         GROUP BY h.agent_id
    ),
    response AS (
        SELECT a.agent_id, avg(extract(epoch FROM a.first_activity_at - a.assigned_at)) / 3600 AS hours
          FROM crm.lead_assignments AS a
         WHERE a.first_activity_at > p_now - v_window AND a.first_activity_at <= p_now
           AND a.first_activity_at >= a.assigned_at
         GROUP BY a.agent_id
    )
    UPDATE crm.agents AS g
       SET performance_score = s.score
      FROM (SELECT a.agent_id,
                   -- (greatest() skips NULLs: a missing response time must be tested, or it would score 0)
                   round(v_conversion_weight * coalesce(c.rate, v_neutral)
                         + v_response_weight * CASE WHEN r.hours IS NULL THEN v_neutral
                                                    ELSE greatest(0, 100 * (1 - r.hours / v_zero_hours)) END, 2)
                       AS score
              FROM crm.agents AS a
              LEFT JOIN conversion AS c ON c.agent_id = a.agent_id
              LEFT JOIN response AS r ON r.agent_id = a.agent_id) AS s
     WHERE g.agent_id = s.agent_id AND g.performance_score IS DISTINCT FROM s.score;
    RETURN v_rows;
END
$$;
COMMENT ON FUNCTION crm.refresh_performance_metrics(timestamptz) IS
    'Recomputes crm.agent_performance_metrics for this month and the three before (Asia/Dubai) and agents.performance_score '
    'by the setting performance_score (0.6 x conversion rate + 0.4 x response score over 90 days, as shipped). Returns '
    'the metric rows changed.';

-- jobs.run_sweeps(now, force): every sweep in one transaction, under a transaction advisory lock so that of several
-- app processes (or cron and the app) only one sweeps at a time; the others get {"skipped": true} at once. A clock
-- more than sweep_clock_tolerance ahead of the real one is refused unless p_force: a sweep in the future writes
-- future escalations, decays and reassignments into the live data (jobs.rehearse_sweeps shows them instead).
-- Errors: PT422 sweep_clock_ahead.
DROP FUNCTION IF EXISTS api.run_sweeps(timestamptz);
CREATE OR REPLACE FUNCTION jobs.run_sweeps(p_now timestamptz DEFAULT NULL, p_force boolean DEFAULT false)
RETURNS jsonb
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = ''
AS $$
DECLARE
    v_now     timestamptz := coalesce(p_now, pg_catalog.now());
    v_started timestamptz := pg_catalog.clock_timestamp();
    v_result  jsonb;
BEGIN
    IF v_now > pg_catalog.now() + crm.setting_interval('sweep_clock_tolerance') AND NOT p_force THEN
        RAISE EXCEPTION 'a sweep at % would write the future into the live data', v_now
            USING ERRCODE = 'PT422', CONSTRAINT = 'sweep_clock_ahead',
                  HINT = 'Rehearse it (jobs.rehearse_sweeps, or python -m api sweep --now ...), or pass force.';
    END IF;
    IF NOT pg_catalog.pg_try_advisory_xact_lock(7312046502) THEN
        RETURN pg_catalog.jsonb_build_object('skipped', true, 'reason', 'another sweep is running');
    END IF;
    PERFORM crm.set_actor('sweep');
    v_result := pg_catalog.jsonb_build_object(
        'skipped', false,
        'now', v_now,
        'escalated', crm.sweep_escalations(v_now),
        'reassigned_no_response', crm.sweep_unresponsive(v_now),
        'decayed', crm.sweep_decay(v_now),
        'queue_drained', crm.drain_assignment_queue(1000, v_now),
        'rebalanced', crm.sweep_workload_balance(v_now),
        'metrics_rows', crm.refresh_performance_metrics(v_now));
    RETURN v_result || pg_catalog.jsonb_build_object(
        'duration_ms', round(extract(epoch FROM pg_catalog.clock_timestamp() - v_started) * 1000, 1));
END
$$;
COMMENT ON FUNCTION jobs.run_sweeps(timestamptz, boolean) IS
    'Runs every time-based rule at p_now (default now): escalate 30-day-overdue follow-ups, reassign unresponsive '
    'leads, 7-day no-response decay, drain the assignment queue, balance workload, refresh performance metrics. '
    'Idempotent; one at a time (advisory lock; a concurrent call returns {"skipped": true}). Errors: PT422 '
    'sweep_clock_ahead (p_now beyond sweep_clock_tolerance without p_force). SECURITY DEFINER: writes crm for the '
    'job login, which has no rights of its own.';

-- jobs.rehearse_sweeps(now): what a sweep at p_now would do, without doing it: the sweeps run in a subtransaction
-- that is then rolled back, so the answer counts real work and nothing of it stays (no rows, no notifications).
CREATE OR REPLACE FUNCTION jobs.rehearse_sweeps(p_now timestamptz)
RETURNS jsonb
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = ''
AS $$
DECLARE
    v_result jsonb;
BEGIN
    BEGIN
        v_result := jobs.run_sweeps(p_now, true);
        RAISE EXCEPTION 'rehearsal: roll back' USING ERRCODE = 'TR001';
    EXCEPTION WHEN SQLSTATE 'TR001' THEN
        NULL;  -- every write of the sweeps is undone with the subtransaction; v_result keeps the counts
    END;
    RETURN v_result || '{"dry_run": true}'::jsonb;
END
$$;
COMMENT ON FUNCTION jobs.rehearse_sweeps(timestamptz) IS
    'A dry run of jobs.run_sweeps at p_now (any time, future included): the counts it would produce, with every write '
    'rolled back. SECURITY DEFINER: runs the sweeps as jobs.run_sweeps does.';

-- refresh the snapshot when it is due (or at once with p_force): the sweep calls it after jobs.run_sweeps
CREATE OR REPLACE FUNCTION crm.refresh_analytics_snapshot(p_force boolean DEFAULT false)
RETURNS jsonb
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = ''
AS $$
DECLARE
    v_started timestamptz := pg_catalog.clock_timestamp();
    v_last    timestamptz;
    v_rows    bigint;
    v_ms      numeric;
BEGIN
    SELECT s.refreshed_at INTO v_last FROM crm.analytics_snapshot_log AS s WHERE s.snapshot = 'lead_facts';
    IF NOT p_force AND v_last > now() - crm.setting_interval('analytics_refresh_interval') THEN
        RETURN pg_catalog.jsonb_build_object('refreshed', false, 'reason', 'not due', 'refreshed_at', v_last);
    END IF;
    IF NOT pg_catalog.pg_try_advisory_xact_lock(7312046503) THEN
        RETURN pg_catalog.jsonb_build_object('refreshed', false, 'reason', 'another refresh is running',
                                             'refreshed_at', v_last);
    END IF;
    REFRESH MATERIALIZED VIEW CONCURRENTLY reporting.lead_facts_snapshot;
    ANALYZE reporting.lead_facts_snapshot;  -- the reports' plans need its statistics (a refresh keeps the old ones)
    SELECT pg_catalog.count(*) INTO v_rows FROM reporting.lead_facts_snapshot;
    v_ms := round(extract(epoch FROM pg_catalog.clock_timestamp() - v_started) * 1000, 1);
    UPDATE crm.analytics_snapshot_log
       SET refreshed_at = v_started, duration_ms = v_ms, row_count = v_rows
     WHERE snapshot = 'lead_facts';
    RETURN pg_catalog.jsonb_build_object('refreshed', true, 'refreshed_at', v_started, 'duration_ms', v_ms,
                                         'rows', v_rows);
END
$$;
COMMENT ON FUNCTION crm.refresh_analytics_snapshot(boolean) IS
    'Refreshes reporting.lead_facts_snapshot (concurrently: reports keep reading the old one meanwhile) when it is '
    'older than analytics_refresh_interval, or at once with p_force; one refresh at a time (advisory lock). '
    'SECURITY DEFINER: only the owner may refresh a materialized view.';

DROP FUNCTION IF EXISTS api.refresh_analytics(boolean);
CREATE OR REPLACE FUNCTION jobs.refresh_analytics(p_force boolean DEFAULT false)
RETURNS jsonb
LANGUAGE sql
SECURITY DEFINER
SET search_path = ''
AS $$
    SELECT crm.refresh_analytics_snapshot(p_force)
$$;
COMMENT ON FUNCTION jobs.refresh_analytics(boolean) IS
    'Refreshes the analytics snapshot behind the Task 4 reports when analytics_refresh_interval has passed (or at once '
    'with p_force). The sweeper calls it after jobs.run_sweeps, in its own transaction, so the sweeps'' row locks are '
    'not held while the snapshot is rebuilt. SECURITY DEFINER: only the owner may refresh a materialized view.';
