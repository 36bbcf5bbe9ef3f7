-- The agent dashboard: api.agent_dashboard builds the whole body of GET /api/v1/agents/{agent_id}/dashboard.
-- Every figure's definition is in docs/business-rules.md section 9. Days and months are Asia/Dubai's.

-- crm.human_duration(seconds): "35 minutes", "4.5 hours", "2.3 days" (the brief's average_response_time).
CREATE OR REPLACE FUNCTION crm.human_duration(p_seconds numeric)
RETURNS text
LANGUAGE plpgsql
IMMUTABLE
SET search_path = ''
AS $$
BEGIN
    IF p_seconds IS NULL THEN
        RETURN NULL;
    ELSIF p_seconds < 3600 THEN
        RETURN round(p_seconds / 60) || CASE WHEN round(p_seconds / 60) = 1 THEN ' minute' ELSE ' minutes' END;
    ELSIF p_seconds < 48 * 3600 THEN
        RETURN round(p_seconds / 3600, 1) || ' hours';
    END IF;
    RETURN round(p_seconds / 86400, 1) || ' days';
END
$$;
COMMENT ON FUNCTION crm.human_duration(numeric) IS
    'A duration for people: minutes under an hour, hours (one decimal) under two days, else days (one decimal).';

-- api.agent_dashboard(agent, date_range, date_from, date_to, status_filter, source_filter, now)
-- date_range 7d | 30d | 90d (the last N Dubai days, today included) | custom (date_from..date_to, inclusive);
-- status_filter all | active | converted | lost; source_filter all | a source. The API validates the values; here
-- they are checked again for psql callers. Errors: PT404 agent_not_found, PT422 invalid_dashboard_filter,
-- PT422 date_range_out_of_bounds (a custom range outside the setting date_range_bounds).
CREATE OR REPLACE FUNCTION api.agent_dashboard(
    p_agent_id      uuid,
    p_date_range    text DEFAULT '30d',
    p_date_from     date DEFAULT NULL,
    p_date_to       date DEFAULT NULL,
    p_status_filter text DEFAULT 'all',
    p_source_filter text DEFAULT 'all',
    p_now           timestamptz DEFAULT NULL
)
RETURNS jsonb
LANGUAGE plpgsql
STABLE
SECURITY INVOKER  -- reads as the caller: row-level security shows an agent caller only their own rows
SET search_path = ''
AS $$
DECLARE
    v_now     timestamptz := coalesce(p_now, now());
    v_tz      text;
    v_today   date;
    v_from    date;
    v_to      date;
    v_start   timestamptz;
    v_end     timestamptz;
    v_month   timestamptz;
    v_agent   crm.agents;
    v_result  jsonb;
BEGIN
    PERFORM crm.authorize('dashboard', p_agent_id);  -- an agent key: its own dashboard only (first: nothing is
                                                      -- readable to a session without a caller)
    v_tz := crm.setting('timezone') #>> '{}';
    v_today := (v_now AT TIME ZONE v_tz)::date;
    v_month := date_trunc('month', v_now AT TIME ZONE v_tz) AT TIME ZONE v_tz;
    SELECT * INTO v_agent FROM crm.agents AS g WHERE g.agent_id = p_agent_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'agent % does not exist', p_agent_id USING ERRCODE = 'PT404', CONSTRAINT = 'agent_not_found';
    END IF;
    CASE p_date_range
        WHEN '7d' THEN v_from := v_today - 6; v_to := v_today;
        WHEN '30d' THEN v_from := v_today - 29; v_to := v_today;
        WHEN '90d' THEN v_from := v_today - 89; v_to := v_today;
        WHEN 'custom' THEN v_from := p_date_from; v_to := p_date_to;
        ELSE v_from := NULL;
    END CASE;
    IF v_from IS NULL OR v_to IS NULL OR v_from > v_to
       OR p_status_filter NOT IN ('all', 'active', 'converted', 'lost')
       OR (p_source_filter <> 'all' AND NOT EXISTS (SELECT 1 FROM crm.lead_sources AS s WHERE s.source_type = p_source_filter))
    THEN
        RAISE EXCEPTION 'invalid dashboard filter (date_range %, % to %, status %, source %)',
                        p_date_range, p_date_from, p_date_to, p_status_filter, p_source_filter
            USING ERRCODE = 'PT422', CONSTRAINT = 'invalid_dashboard_filter';
    END IF;
    IF p_date_range = 'custom' AND (
           v_from < (crm.setting('date_range_bounds') ->> 'earliest')::date
           OR v_to > v_today + (crm.setting('date_range_bounds') ->> 'ahead')::interval) THEN
        RAISE EXCEPTION 'a custom range may run from % to %', crm.setting('date_range_bounds') ->> 'earliest',
                        (v_today + (crm.setting('date_range_bounds') ->> 'ahead')::interval)::date
            USING ERRCODE = 'PT422', CONSTRAINT = 'date_range_out_of_bounds';
    END IF;
    v_start := v_from::timestamp AT TIME ZONE v_tz;
    v_end := (v_to + 1)::timestamp AT TIME ZONE v_tz;

    WITH mine AS (   -- the agent's leads (open assignment is theirs) created in the range, filtered
        SELECT l.*
          FROM crm.lead_assignments AS a
          JOIN crm.leads AS l ON l.lead_id = a.lead_id
         WHERE a.agent_id = p_agent_id AND a.released_at IS NULL
           AND a.assigned_at >= v_start   -- implied (a lead is assigned after it is created); lets the index cut
           AND l.created_at >= v_start AND l.created_at < v_end
           AND (p_source_filter = 'all' OR l.source_type = p_source_filter)
           AND CASE p_status_filter
                   WHEN 'active' THEN NOT crm.is_closed(l.status)
                   WHEN 'converted' THEN l.status = 'converted'
                   WHEN 'lost' THEN l.status = 'lost'
                   ELSE true END
    ),
    figures AS (
        SELECT round(avg(m.response_seconds))::integer AS response_seconds,
               round(avg(m.score))::integer AS score_average,
               count(*) FILTER (WHERE m.status = 'converted') AS converted,
               count(*) FILTER (WHERE m.status = 'lost') AS lost,
               round(avg(m.deal_value_aed) FILTER (WHERE m.status = 'converted'), 2) AS deal_average
          FROM mine AS m
    ),
    ranks AS (   -- mean first-response time per active agent over the months of the range (fastest = 1), from the
                 -- monthly metrics the sweep keeps (crm.agent_performance_metrics): 200 rows, not every assignment
        SELECT m.agent_id,
               rank() OVER (ORDER BY sum(m.avg_response_seconds::numeric * m.leads_contacted)
                                     / nullif(sum(m.leads_contacted), 0)) AS position
          FROM crm.agent_performance_metrics AS m
          JOIN crm.agents AS g ON g.agent_id = m.agent_id AND g.is_active AND g.role = 'agent'
         WHERE m.period_month BETWEEN date_trunc('month', v_from)::date AND v_to
           AND m.avg_response_seconds IS NOT NULL AND m.leads_contacted > 0
         GROUP BY m.agent_id
    )
    SELECT pg_catalog.jsonb_build_object(
        'agent_summary', pg_catalog.jsonb_build_object(
            'total_active_leads', v_agent.active_leads,
            'overdue_follow_ups', (SELECT count(*) FROM crm.follow_up_tasks AS t
                                    WHERE t.agent_id = p_agent_id AND t.status = 'open' AND t.due_at < v_now),
            'this_month_conversions', (SELECT count(*) FROM crm.lead_conversion_history AS h
                                         JOIN crm.leads AS l ON l.lead_id = h.lead_id
                                        WHERE h.agent_id = p_agent_id AND h.to_status = 'converted'
                                          AND h.changed_at >= v_month AND h.changed_at <= v_now
                                          AND (p_source_filter = 'all' OR l.source_type = p_source_filter)),
            'average_response_time', crm.human_duration(f.response_seconds),
            'average_response_seconds', f.response_seconds,
            'lead_score_average', f.score_average),
        'recent_leads', coalesce((
            SELECT pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
                       'lead_id', m.lead_id, 'name', m.first_name || ' ' || m.last_name, 'phone', m.phone,
                       'source', m.source_type, 'status', m.status, 'score', m.score,
                       'last_activity', m.last_activity_at,
                       'next_follow_up', (SELECT min(t.due_at) FROM crm.follow_up_tasks AS t
                                           WHERE t.lead_id = m.lead_id AND t.status = 'open'))
                       ORDER BY coalesce(m.last_activity_at, m.created_at) DESC, m.lead_id)
              FROM (SELECT * FROM mine ORDER BY coalesce(mine.last_activity_at, mine.created_at) DESC, mine.lead_id
                    LIMIT 10) AS m), '[]'::jsonb),
        'pending_tasks', coalesce((
            SELECT pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
                       'task_id', t.task_id, 'lead_name', l.first_name || ' ' || l.last_name, 'task_type', t.task_type,
                       'due_date', t.due_at, 'priority', t.priority) ORDER BY t.due_at, t.task_id)
              FROM (SELECT * FROM crm.follow_up_tasks AS x
                     WHERE x.agent_id = p_agent_id AND x.status = 'open' ORDER BY x.due_at LIMIT 10) AS t
              JOIN crm.leads AS l ON l.lead_id = t.lead_id), '[]'::jsonb),
        'performance_metrics', pg_catalog.jsonb_build_object(
            'conversion_rate', crm.conversion_rate(f.converted, f.lost),   -- null: nothing closed, no rate
            'average_deal_size', coalesce(f.deal_average, 0),
            'response_time_rank', (SELECT r.position FROM ranks AS r WHERE r.agent_id = p_agent_id),
            'ranked_agents', (SELECT count(*) FROM ranks)),
        'filters', pg_catalog.jsonb_build_object(
            'date_range', p_date_range, 'date_from', v_from, 'date_to', v_to,
            'status_filter', p_status_filter, 'source_filter', p_source_filter, 'timezone', v_tz),
        'generated_at', v_now)
      INTO v_result
      FROM figures AS f;
    RETURN v_result;
END
$$;
COMMENT ON FUNCTION api.agent_dashboard(uuid, text, date, date, text, text, timestamptz) IS
    'GET /api/v1/agents/{id}/dashboard: agent_summary, recent_leads (10), pending_tasks (10), performance_metrics for '
    'the agent''s leads created in the date range (Asia/Dubai days) and matching the status and source filters. '
    'Definitions: docs/business-rules.md section 9. Errors: PT404 agent_not_found, PT422 invalid_dashboard_filter, PT422 date_range_out_of_bounds; '
    'crm.authorize''s (an agent key on another agent: PT403 forbidden). SECURITY INVOKER: it reads through the '
    'row-level security of the caller.';
