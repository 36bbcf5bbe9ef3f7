-- The agent dashboard: api.agent_dashboard builds the whole body of GET /api/v1/agents/{agent_id}/dashboard.
-- Every figure is defined in docs/analytics.md ("The agent dashboard"). Days and months are the timezone setting's.

-- crm.dashboard_pending_offers(agent): the agent's open offers not yet accepted, the nearest deadline first
-- ({lead_id, respond_by, offer_round}). Invoker's rights: the caller's row-level security applies.
CREATE OR REPLACE FUNCTION crm.dashboard_pending_offers(p_agent_id uuid)
RETURNS json
LANGUAGE plpgsql
STABLE
SET search_path = ''
AS $$
BEGIN
    RETURN (SELECT coalesce(pg_catalog.json_agg(pg_catalog.json_build_object(
                       'lead_id', a.lead_id, 'respond_by', a.respond_by, 'offer_round', a.offer_round)
                       ORDER BY a.respond_by, a.lead_id), '[]'::json)
              FROM crm.lead_assignments AS a
              JOIN crm.leads AS l ON l.lead_id = a.lead_id
             WHERE a.agent_id = p_agent_id AND a.released_at IS NULL AND a.accepted_at IS NULL
               AND a.respond_by IS NOT NULL AND NOT crm.is_closed(l.status));
END
$$;
COMMENT ON FUNCTION crm.dashboard_pending_offers(uuid) IS
    'Dashboard step: the agent''s open offers awaiting acceptance, nearest respond_by first.';

-- crm.offer_accept_rate(agent, from, to): of the offers made to the agent in [from, to) that were answered, the
-- accepted share in % (crm.offer_figures); NULL when none was answered.
-- SECURITY DEFINER: an offer that expired moved the lead to another agent, whose row-level security hides it from
-- the first one; the dashboard authorized the caller for this agent first.
CREATE OR REPLACE FUNCTION crm.offer_accept_rate(p_agent_id uuid, p_from timestamptz, p_to timestamptz)
RETURNS numeric
LANGUAGE plpgsql
STABLE
SECURITY DEFINER
SET search_path = ''
AS $$
BEGIN
    PERFORM crm.authorize('dashboard', p_agent_id);   -- the caller may see this agent's dashboard
    RETURN (SELECT f.accept_rate FROM crm.offer_figures(p_from, p_to, p_agent_id) AS f);
END
$$;
COMMENT ON FUNCTION crm.offer_accept_rate(uuid, timestamptz, timestamptz) IS
    'Of the agent''s offers made in [from, to) and answered, the share accepted (%, crm.offer_figures), NULL when none '
    'was answered. SECURITY DEFINER: reads the offers that moved on to other agents.';

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

-- crm.dashboard_window(date_range, date_from, date_to, status_filter, source_filter, now): the Dubai days a dashboard
-- covers and their bounds as instants. date_range 7d | 30d | 90d (the last N days, today included) | custom
-- (date_from..date_to, inclusive, within the date_range_bounds setting); status_filter all | active | converted |
-- lost; source_filter all | a source. Errors: PT422 invalid_dashboard_filter, PT422 date_range_out_of_bounds.
CREATE OR REPLACE FUNCTION crm.dashboard_window(
    p_date_range    text,
    p_date_from     date,
    p_date_to       date,
    p_status_filter text,
    p_source_filter text,
    p_now           timestamptz,
    OUT tz          text,
    OUT date_from   date,
    OUT date_to     date,
    OUT starts_at   timestamptz,
    OUT ends_at     timestamptz,
    OUT month_start timestamptz
)
LANGUAGE plpgsql
STABLE
SET search_path = ''
AS $$
DECLARE
    v_today  date;
    v_bounds jsonb := crm.setting('date_range_bounds');
BEGIN
    tz := crm.setting('timezone') #>> '{}';
    v_today := (p_now AT TIME ZONE tz)::date;
    month_start := pg_catalog.date_trunc('month', p_now AT TIME ZONE tz) AT TIME ZONE tz;
    CASE p_date_range
        WHEN '7d' THEN date_from := v_today - 6; date_to := v_today;
        WHEN '30d' THEN date_from := v_today - 29; date_to := v_today;
        WHEN '90d' THEN date_from := v_today - 89; date_to := v_today;
        WHEN 'custom' THEN date_from := p_date_from; date_to := p_date_to;
        ELSE date_from := NULL;
    END CASE;
    IF date_from IS NULL OR date_to IS NULL OR date_from > date_to
       OR p_status_filter NOT IN ('all', 'active', 'converted', 'lost')
       OR (p_source_filter <> 'all' AND NOT EXISTS (SELECT 1 FROM crm.lead_sources AS s WHERE s.source_type = p_source_filter))
    THEN
        RAISE EXCEPTION 'invalid dashboard filter (date_range %, % to %, status %, source %)',
                        p_date_range, p_date_from, p_date_to, p_status_filter, p_source_filter
            USING ERRCODE = 'PT422', CONSTRAINT = 'invalid_dashboard_filter';
    END IF;
    IF p_date_range = 'custom' AND (date_from < (v_bounds ->> 'earliest')::date
                                    OR date_to > v_today + (v_bounds ->> 'ahead')::interval) THEN
        RAISE EXCEPTION 'a custom range may run from % to %', v_bounds ->> 'earliest',
                        (v_today + (v_bounds ->> 'ahead')::interval)::date
            USING ERRCODE = 'PT422', CONSTRAINT = 'date_range_out_of_bounds',
                  DETAIL = pg_catalog.json_build_object('earliest', v_bounds ->> 'earliest',
                                                        'latest', (v_today + (v_bounds ->> 'ahead')::interval)::date)::text;
    END IF;
    starts_at := date_from::timestamp AT TIME ZONE tz;
    ends_at := (date_to + 1)::timestamp AT TIME ZONE tz;
END
$$;
COMMENT ON FUNCTION crm.dashboard_window(text, date, date, text, text, timestamptz) IS
    'Dashboard step: the days (in the timezone setting) a dashboard covers, their bounds as instants and the start of '
    'the current month. Errors: PT422 invalid_dashboard_filter, PT422 date_range_out_of_bounds.';

-- crm.dashboard_leads(agent, from, to, status_filter, source_filter): the leads a dashboard counts: held by the
-- agent now (open assignment), created in [from, to), of the source and status asked, each with the agent's response
-- time on it (lead_assignments.response_seconds of that assignment: from when the agent got the lead to their first
-- contact). Reads as the caller.
DROP FUNCTION IF EXISTS crm.dashboard_leads(uuid, timestamptz, timestamptz, text, text);
CREATE FUNCTION crm.dashboard_leads(p_agent_id uuid, p_from timestamptz, p_to timestamptz,
                                    p_status_filter text, p_source_filter text)
RETURNS TABLE (lead crm.leads, agent_response_seconds integer)
LANGUAGE plpgsql
STABLE
SET search_path = ''
AS $$
BEGIN
    RETURN QUERY
    SELECT l, a.response_seconds
      FROM crm.lead_assignments AS a
      JOIN crm.leads AS l ON l.lead_id = a.lead_id
     WHERE a.agent_id = p_agent_id AND a.released_at IS NULL
       AND a.assigned_at >= p_from   -- implied (a lead is assigned after it is created); lets the index cut
       AND l.created_at >= p_from AND l.created_at < p_to
       AND (p_source_filter = 'all' OR l.source_type = p_source_filter)
       AND CASE p_status_filter
               WHEN 'active' THEN NOT crm.is_closed(l.status)
               WHEN 'converted' THEN l.status = 'converted'
               WHEN 'lost' THEN l.status = 'lost'
               ELSE true END;
END
$$;
COMMENT ON FUNCTION crm.dashboard_leads(uuid, timestamptz, timestamptz, text, text) IS
    'Dashboard step: the agent''s current leads created in the range, filtered by status (all, active, converted, lost) '
    'and source, each with the agent''s response seconds on it (its assignment''s lead_assignments.response_seconds).';

-- crm.dashboard_rank_months(from, to): the months of a range (first days, in the timezone setting) that the monthly
-- metrics cover: the months crm.refresh_monthly_metrics has computed (the sweep keeps the current month and the three
-- before it; older months keep the figures of their last refresh, and months before the metrics began have none).
CREATE OR REPLACE FUNCTION crm.dashboard_rank_months(p_from date, p_to date)
RETURNS date[]
LANGUAGE plpgsql
STABLE
SET search_path = ''
AS $$
BEGIN
    RETURN coalesce((
        SELECT pg_catalog.array_agg(m.month ORDER BY m.month)
          FROM pg_catalog.generate_series(pg_catalog.date_trunc('month', p_from::timestamp),
                                          p_to::timestamp, interval '1 month') AS g (at)
         CROSS JOIN LATERAL (SELECT g.at::date AS month) AS m
         WHERE EXISTS (SELECT 1 FROM crm.agent_performance_metrics AS x WHERE x.period_month = m.month)), '{}');
END
$$;
COMMENT ON FUNCTION crm.dashboard_rank_months(date, date) IS
    'Dashboard step: the months of a range that crm.agent_performance_metrics covers (what response_time_rank reads).';

-- crm.response_time_ranks(from, to): everyone with first contacts in the months of the range that the metrics cover
-- (agents and supervisors, active or not: the one population rule of docs/analytics.md), their responses and mean
-- response time (each first contact timed from its assignment, lead_assignments.response_seconds; weighted over the
-- months), and their place by it (1 = fastest; equal means share a place) among those with at least
-- ranking_min_responses responses; the others have no place (NULL). From the monthly metrics the sweep keeps
-- (crm.agent_performance_metrics: one row per agent and month, not every assignment).
DROP FUNCTION IF EXISTS crm.response_time_ranks(date, date);
CREATE FUNCTION crm.response_time_ranks(p_from date, p_to date)
RETURNS TABLE (agent_id uuid, responses bigint, mean_response_seconds numeric, rank_position bigint)
LANGUAGE plpgsql
STABLE
SET search_path = ''
AS $$
#variable_conflict use_column
DECLARE
    v_minimum integer := (crm.setting('ranking_min_responses') #>> '{}')::integer;
BEGIN
    RETURN QUERY
    WITH per AS (
        SELECT m.agent_id, sum(m.leads_contacted)::bigint AS responses,
               sum(m.avg_response_seconds::numeric * m.leads_contacted) / sum(m.leads_contacted) AS mean
          FROM crm.agent_performance_metrics AS m
         WHERE m.period_month BETWEEN pg_catalog.date_trunc('month', p_from)::date AND p_to
           AND m.avg_response_seconds IS NOT NULL AND m.leads_contacted > 0
         GROUP BY m.agent_id)
    SELECT p.agent_id, p.responses, p.mean,
           CASE WHEN p.responses >= v_minimum
                THEN rank() OVER (PARTITION BY p.responses >= v_minimum ORDER BY p.mean) END
      FROM per AS p;
END
$$;
COMMENT ON FUNCTION crm.response_time_ranks(date, date) IS
    'Dashboard step: everyone with first contacts in the months of a range, their responses, mean response seconds '
    '(assignment to first contact) and place by it (1 = fastest) among those with at least ranking_min_responses.';

-- crm.dashboard_pending_tasks(agent, now): the agent's ten most pressing open follow-ups: by the priority they have
-- now (crm.follow_up_priority: the lead's current score, raised when long overdue), then by due time.
DROP FUNCTION IF EXISTS crm.dashboard_pending_tasks(uuid);
DROP FUNCTION IF EXISTS crm.dashboard_pending_tasks(uuid, timestamptz);
CREATE FUNCTION crm.dashboard_pending_tasks(p_agent_id uuid, p_now timestamptz)
RETURNS json
LANGUAGE plpgsql
STABLE
SET search_path = ''
AS $$
BEGIN
    RETURN coalesce((
        SELECT pg_catalog.json_agg(pg_catalog.json_build_object(
                   'task_id', t.task_id, 'lead_name', t.lead_name, 'task_type', t.task_type,
                   'due_date', t.due_at, 'priority', t.priority) ORDER BY t.priority, t.due_at, t.task_id)
          FROM (SELECT x.task_id, l.first_name || ' ' || l.last_name AS lead_name, x.task_type, x.due_at,
                       crm.follow_up_priority(l.score, x.due_at, p_now) AS priority
                  FROM crm.follow_up_tasks AS x
                  JOIN crm.leads AS l ON l.lead_id = x.lead_id
                 WHERE x.agent_id = p_agent_id AND x.status = 'open'
                 ORDER BY 5, x.due_at, x.task_id
                 LIMIT 10) AS t), '[]'::json);
END
$$;
COMMENT ON FUNCTION crm.dashboard_pending_tasks(uuid, timestamptz) IS
    'Dashboard step: pending_tasks, the agent''s ten open follow-ups with the highest priority now '
    '(crm.follow_up_priority), then the earliest due.';

-- crm.dashboard_conversions(agent, since, now, source_filter): conversions the agent made in [since, now].
CREATE OR REPLACE FUNCTION crm.dashboard_conversions(p_agent_id uuid, p_since timestamptz, p_now timestamptz,
                                                     p_source_filter text)
RETURNS bigint
LANGUAGE plpgsql
STABLE
SET search_path = ''
AS $$
BEGIN
    RETURN (SELECT count(*) FROM crm.lead_conversion_history AS h
              JOIN crm.leads AS l ON l.lead_id = h.lead_id
             WHERE h.agent_id = p_agent_id AND h.to_status = 'converted'
               AND h.changed_at >= p_since AND h.changed_at <= p_now
               AND (p_source_filter = 'all' OR l.source_type = p_source_filter));
END
$$;
COMMENT ON FUNCTION crm.dashboard_conversions(uuid, timestamptz, timestamptz, text) IS
    'Dashboard step: this_month_conversions, the conversions credited to the agent from p_since to p_now.';

-- api.agent_dashboard(agent, date_range, date_from, date_to, status_filter, source_filter, now)
-- The filters are crm.dashboard_window's (the API validates them; here they are checked again for psql callers).
-- Errors: PT404 agent_not_found, PT422 invalid_dashboard_filter, PT422 date_range_out_of_bounds.
DROP FUNCTION IF EXISTS api.agent_dashboard(uuid, text, date, date, text, text, timestamptz);
CREATE FUNCTION api.agent_dashboard(
    p_agent_id      uuid,
    p_date_range    text DEFAULT '30d',
    p_date_from     date DEFAULT NULL,
    p_date_to       date DEFAULT NULL,
    p_status_filter text DEFAULT 'all',
    p_source_filter text DEFAULT 'all',
    p_now           timestamptz DEFAULT NULL
)
RETURNS json
LANGUAGE plpgsql
STABLE
SECURITY INVOKER  -- reads as the caller: row-level security shows an agent caller only their own rows
SET search_path = ''
AS $$
DECLARE
    v_now    timestamptz := coalesce(p_now, now());
    v_agent  crm.agents;
    v_window record;   -- crm.dashboard_window
    v_months date[];   -- the months the response_time_rank reads (crm.dashboard_rank_months)
    v_result json;
BEGIN
    PERFORM crm.authorize('dashboard', p_agent_id);  -- an agent key: its own dashboard only (first: nothing is
                                                      -- readable to a session without a caller)
    SELECT * INTO v_agent FROM crm.agents AS g WHERE g.agent_id = p_agent_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'agent % does not exist', p_agent_id USING ERRCODE = 'PT404', CONSTRAINT = 'agent_not_found',
            DETAIL = pg_catalog.json_build_object('agent_id', p_agent_id)::text;
    END IF;
    SELECT * INTO v_window
      FROM crm.dashboard_window(p_date_range, p_date_from, p_date_to, p_status_filter, p_source_filter, v_now);

    v_months := crm.dashboard_rank_months(v_window.date_from, v_window.date_to);
    WITH mine AS MATERIALIZED (   -- read once, for the figures and the recent leads
        SELECT (d.lead).*, d.agent_response_seconds
          FROM crm.dashboard_leads(p_agent_id, v_window.starts_at, v_window.ends_at, p_status_filter, p_source_filter) AS d
    ),
    figures AS (
        SELECT round(avg(m.agent_response_seconds))::integer AS response_seconds,
               (percentile_cont(0.5) WITHIN GROUP (ORDER BY m.response_seconds))::integer AS first_response_p50,
               round(avg(m.score))::integer AS score_average,
               count(*) FILTER (WHERE m.status = 'converted') AS converted,
               count(*) FILTER (WHERE m.status = 'lost') AS lost,
               round(avg(m.deal_value_aed) FILTER (WHERE m.status = 'converted'), 2) AS deal_average
          FROM mine AS m
    ),
    ranks AS MATERIALIZED (   -- over the months the metrics cover (v_months); none when they cover none
        SELECT * FROM crm.response_time_ranks(v_window.date_from, v_window.date_to) WHERE cardinality(v_months) > 0
    )
    SELECT pg_catalog.json_build_object(   -- json: the keys in the order of the API's AgentDashboard
        'agent_summary', pg_catalog.json_build_object(
            'total_active_leads', v_agent.active_leads,
            'overdue_follow_ups', (SELECT count(*) FROM crm.follow_up_tasks AS t
                                    WHERE t.agent_id = p_agent_id AND t.status = 'open' AND t.due_at < v_now),
            'this_month_conversions', crm.dashboard_conversions(p_agent_id, v_window.month_start, v_now, p_source_filter),
            'average_response_time', crm.human_duration(f.response_seconds),
            'average_response_seconds', f.response_seconds,
            'lead_score_average', f.score_average,
            'pending_offers', crm.dashboard_pending_offers(p_agent_id),
            'first_response_p50_seconds', f.first_response_p50),
        'recent_leads', coalesce((
            SELECT pg_catalog.json_agg(pg_catalog.json_build_object(
                       'lead_id', m.lead_id, 'name', m.first_name || ' ' || m.last_name, 'phone', m.phone,
                       'source', m.source_type, 'status', m.status, 'score', m.score,
                       'last_activity', m.last_activity_at,
                       'next_follow_up', (SELECT min(t.due_at) FROM crm.follow_up_tasks AS t
                                           WHERE t.lead_id = m.lead_id AND t.status = 'open'))
                       ORDER BY coalesce(m.last_activity_at, m.created_at) DESC, m.lead_id)
              FROM (SELECT * FROM mine ORDER BY coalesce(mine.last_activity_at, mine.created_at) DESC, mine.lead_id
                    LIMIT 10) AS m), '[]'::json),
        'pending_tasks', crm.dashboard_pending_tasks(p_agent_id, v_now),
        'performance_metrics', pg_catalog.json_build_object(
            'conversion_rate', crm.conversion_rate(f.converted, f.lost),   -- null: nothing closed, no rate
            'average_deal_size', coalesce(f.deal_average, 0),
            'response_time_rank', (SELECT r.rank_position FROM ranks AS r WHERE r.agent_id = p_agent_id),
            'ranked_agents', (SELECT count(r.rank_position) FROM ranks AS r),
            'response_time_rank_reason', CASE   -- why there is no rank (null when there is one)
                WHEN cardinality(v_months) = 0 THEN 'no_metrics_for_range'
                WHEN NOT EXISTS (SELECT 1 FROM ranks AS r WHERE r.agent_id = p_agent_id) THEN 'no_responses'
                WHEN (SELECT r.rank_position FROM ranks AS r WHERE r.agent_id = p_agent_id) IS NULL
                    THEN 'too_few_responses' END,
            'response_time_rank_months', (SELECT coalesce(pg_catalog.json_agg(pg_catalog.to_char(m.month, 'YYYY-MM')
                                                                              ORDER BY m.month), '[]'::json)
                                            FROM unnest(v_months) AS m (month)),
            'offer_accept_rate', crm.offer_accept_rate(p_agent_id, v_window.starts_at, v_window.ends_at)),
        'filters', pg_catalog.json_build_object(
            'date_range', p_date_range, 'date_from', v_window.date_from, 'date_to', v_window.date_to,
            'status_filter', p_status_filter, 'source_filter', p_source_filter, 'timezone', v_window.tz),
        'generated_at', v_now)
      INTO v_result
      FROM figures AS f;
    RETURN v_result;
END
$$;
COMMENT ON FUNCTION api.agent_dashboard(uuid, text, date, date, text, text, timestamptz) IS
    'GET /api/v1/agents/{id}/dashboard: agent_summary, recent_leads (10), pending_tasks (10), performance_metrics for '
    'the agent''s leads created in the date range (days of the timezone setting) and matching the status and source '
    'filters. Definitions: docs/analytics.md. Errors: PT404 agent_not_found, PT422 invalid_dashboard_filter, '
    'PT422 date_range_out_of_bounds; crm.authorize''s (an agent key on another agent: PT403 forbidden). SECURITY '
    'INVOKER: it reads through the row-level security of the caller.';

-- api.dashboard_changes(after): for the API's dashboard cache (api/listener.py). The agents whose dashboards changed
-- in transactions that committed since the reader's previous look, where p_after is the snapshot that look returned:
-- exactly the rows that snapshot did not see (of a transaction still running then, or begun after), so a
-- transaction that commits late is still seen and nothing comes twice, however long another transaction stays open;
-- the new snapshot; and whether the log still holds everything since p_after (false when the sweep may have pruned
-- rows that look could not see, or p_after is NULL: the reader drops every cached dashboard). The first look passes
-- NULL and gets only the snapshot. (A writing transaction left open for more than the log's ten minutes makes every
-- look after a prune say false, so the cache is dropped about once a minute until it ends: costly only in misses.)
DROP FUNCTION IF EXISTS api.dashboard_changes(xid8);
CREATE OR REPLACE FUNCTION api.dashboard_changes(p_after pg_snapshot)
RETURNS TABLE (agent_ids uuid[], horizon pg_snapshot, complete boolean)
LANGUAGE plpgsql
STABLE
SECURITY DEFINER
SET search_path = ''
AS $$
BEGIN
    -- one statement, one snapshot: the rows read and the snapshot returned are the same one's
    RETURN QUERY
    SELECT coalesce((SELECT pg_catalog.array_agg(DISTINCT c.agent_id) FROM crm.dashboard_changes AS c
                      WHERE c.xid >= pg_catalog.pg_snapshot_xmax(p_after)
                         OR c.xid = ANY (ARRAY(SELECT pg_catalog.pg_snapshot_xip(p_after)))), '{}'::uuid[]),
           pg_catalog.pg_current_snapshot(),
           -- every pruned id (all <= up_to) was seen by that look: below its xmax and not among its running ones
           coalesce(pg_catalog.pg_snapshot_xmax(p_after) > u.up_to
                    AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_snapshot_xip(p_after) AS x WHERE x <= u.up_to), false)
      FROM crm.dashboard_changes_pruned AS u;
END
$$;
COMMENT ON FUNCTION api.dashboard_changes(pg_snapshot) IS
    'The dashboard cache''s change feed: agent_ids whose dashboards changed in transactions that the snapshot '
    'p_after (the previous look''s horizon) did not see and that have committed since, the next horizon, and '
    'complete (false: drop every cached dashboard). No key: it reveals agent ids only, to the API''s own login. '
    'SECURITY DEFINER: reads crm.dashboard_changes, which no login may read.';
