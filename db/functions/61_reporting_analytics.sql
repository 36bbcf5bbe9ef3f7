-- Analytics for psql users, BI tools and GET /api/v1/analytics/...: one object per question of the brief's
-- Task 4. Time-windowed questions are set-returning functions taking an optional [p_from, p_to] of Asia/Dubai
-- dates (NULL = all time) on the lead's creation date; current-state questions are views. All read crm with the
-- owner's rights (SECURITY DEFINER functions, owner-run views), so the BI login needs only reporting.
-- docs/analytics.md explains each, with examples; db/queries/4_*.sql run them.

-- the business time zone (the setting timezone), for the readers of reporting, who may not read crm.settings
CREATE OR REPLACE FUNCTION reporting.business_timezone()
RETURNS text
LANGUAGE sql
STABLE
PARALLEL SAFE
SECURITY DEFINER
SET search_path = ''
AS $$
    SELECT crm.setting('timezone') #>> '{}'
$$;
COMMENT ON FUNCTION reporting.business_timezone() IS
    'The business time zone (setting timezone, Asia/Dubai as shipped) whose days and months the reports count. '
    'SECURITY DEFINER: the reporting login may not read crm.settings.';

-- the leads of a window, from the analytics snapshot (see 0011, 0016): a plain SQL function, so the planner inlines it
-- into each report and the window becomes an index condition on created_at; PARALLEL SAFE, or no report using it
-- could get a parallel plan (the planner decides that before inlining)
CREATE OR REPLACE FUNCTION reporting.lead_facts(p_from date DEFAULT NULL, p_to date DEFAULT NULL)
RETURNS SETOF reporting.lead_facts_snapshot
LANGUAGE sql
STABLE
PARALLEL SAFE
AS $$
    SELECT f.*
      FROM reporting.lead_facts_snapshot AS f
     WHERE f.created_at >= coalesce(p_from::timestamp AT TIME ZONE reporting.business_timezone(), '-infinity')
       AND f.created_at < coalesce((p_to + 1)::timestamp AT TIME ZONE reporting.business_timezone(), 'infinity')
$$;
COMMENT ON FUNCTION reporting.lead_facts(date, date) IS
    'Building block: leads created between p_from and p_to (dates in the timezone setting, inclusive; NULL = no '
    'bound) with their '
    'current agent, month, outcome, deal value, current and capture score, response time and lost reason, as of the '
    'analytics snapshot (reporting.analytics_freshness).';

-- how old the snapshot is, and, read on a streaming standby (REPORTING_DATABASE_URL, docs/scaling.md), how far that
-- standby is behind its primary: 0 when it has replayed all the WAL it received, else the time since the last
-- transaction it replayed committed on the primary (an idle primary sends nothing to replay, so a caught-up standby
-- reads 0, not the idle time)
CREATE OR REPLACE VIEW reporting.analytics_freshness AS
SELECT l.snapshot, l.refreshed_at, now() - l.refreshed_at AS age, l.duration_ms, l.row_count,
       i.every AS refresh_interval, l.refreshed_at + i.every AS next_refresh_due,
       pg_catalog.pg_is_in_recovery() AS read_on_standby,
       CASE WHEN NOT pg_catalog.pg_is_in_recovery() THEN interval '0'
            WHEN pg_catalog.pg_last_wal_receive_lsn() = pg_catalog.pg_last_wal_replay_lsn() THEN interval '0'
            WHEN pg_catalog.pg_last_xact_replay_timestamp() IS NULL THEN NULL  -- behind, by no known time yet
            ELSE greatest(interval '0', now() - pg_catalog.pg_last_xact_replay_timestamp()) END AS replica_lag,
       CASE WHEN pg_catalog.pg_is_in_recovery()
            THEN pg_catalog.pg_wal_lsn_diff(pg_catalog.pg_last_wal_receive_lsn(), pg_catalog.pg_last_wal_replay_lsn())
            ELSE 0 END AS replica_lag_bytes
  FROM crm.analytics_snapshot_log AS l
 CROSS JOIN (SELECT (s.value #>> '{}')::interval AS every  -- not crm.setting_interval(): readers may not call crm
               FROM crm.settings AS s WHERE s.setting_key = 'analytics_refresh_interval') AS i;
COMMENT ON VIEW reporting.analytics_freshness IS
    'When the analytics snapshot behind every Task 4 report (all but the current-workload views) was taken, its age, '
    'cost and rows, and when the sweep refreshes it next; read_on_standby, replica_lag and replica_lag_bytes: whether '
    'this session reads a hot standby and how far it is behind the primary, in time (since the last transaction it '
    'replayed committed; NULL while none was) and in WAL received but not replayed (0 on the primary and on a standby '
    'that replayed all it received). Example: SELECT refreshed_at, age, replica_lag FROM reporting.analytics_freshness;';

-- 4.1 conversion rates by source
CREATE OR REPLACE FUNCTION reporting.conversion_by_source(p_from date DEFAULT NULL, p_to date DEFAULT NULL)
RETURNS TABLE (source_type text, leads bigint, open_leads bigint, converted bigint, lost bigint,
               conversion_rate numeric, revenue_aed numeric)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = '' SET work_mem = '64MB'
AS $$
#variable_conflict use_column
BEGIN
    RETURN QUERY
        SELECT f.source_type, count(*), count(*) FILTER (WHERE NOT f.converted AND NOT f.lost),
               count(*) FILTER (WHERE f.converted), count(*) FILTER (WHERE f.lost),
               crm.conversion_rate(count(*) FILTER (WHERE f.converted), count(*) FILTER (WHERE f.lost)),
               coalesce(sum(f.deal_value_aed), 0)
          FROM reporting.lead_facts(p_from, p_to) AS f
         GROUP BY f.source_type
         ORDER BY 6 DESC NULLS LAST, 1;
END
$$;
COMMENT ON FUNCTION reporting.conversion_by_source(date, date) IS
    'Task 4.1: per source, leads created in the window, still open, converted, lost, conversion rate (converted / closed, %) '
    'and revenue. Example: SELECT * FROM reporting.conversion_by_source(''2026-01-01'', ''2026-06-30'');'
    ' SECURITY DEFINER: reads crm on behalf of the BI login, which may read reporting only.';

-- 4.1 conversion rates by agent
CREATE OR REPLACE FUNCTION reporting.conversion_by_agent(p_from date DEFAULT NULL, p_to date DEFAULT NULL)
RETURNS TABLE (agent_id uuid, full_name text, leads bigint, converted bigint, lost bigint,
               conversion_rate numeric, revenue_aed numeric, avg_response_hours numeric)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = '' SET work_mem = '64MB'
AS $$
#variable_conflict use_column
BEGIN
    RETURN QUERY
        SELECT g.agent_id, g.full_name::text, count(f.lead_id), count(*) FILTER (WHERE f.converted),
               count(*) FILTER (WHERE f.lost),
               crm.conversion_rate(count(*) FILTER (WHERE f.converted), count(*) FILTER (WHERE f.lost)),
               coalesce(sum(f.deal_value_aed), 0), round(avg(f.response_seconds) / 3600.0, 1)
          FROM crm.agents AS g
          JOIN reporting.lead_facts(p_from, p_to) AS f ON f.agent_id = g.agent_id
         GROUP BY g.agent_id, g.full_name
         ORDER BY 6 DESC NULLS LAST, 7 DESC;
END
$$;
COMMENT ON FUNCTION reporting.conversion_by_agent(date, date) IS
    'Task 4.1: per agent (the agent holding or having closed the lead), leads created in the window, converted, lost, '
    'conversion rate (%), revenue and mean first-response time. Example: SELECT * FROM reporting.conversion_by_agent() LIMIT 10;'
    ' SECURITY DEFINER: reads crm on behalf of the BI login, which may read reporting only.';

-- 4.1 average time to conversion by property type
CREATE OR REPLACE FUNCTION reporting.time_to_conversion_by_property_type(p_from date DEFAULT NULL, p_to date DEFAULT NULL)
RETURNS TABLE (property_type text, conversions bigint, avg_days numeric, median_days numeric, p90_days numeric)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = '' SET work_mem = '64MB'
AS $$
#variable_conflict use_column
BEGIN
    RETURN QUERY
        SELECT coalesce(f.property_type::text, 'unspecified'), count(*),
               round(avg(extract(epoch FROM f.closed_at - f.created_at) / 86400)::numeric, 1),
               round((percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM f.closed_at - f.created_at) / 86400))::numeric, 1),
               round((percentile_cont(0.9) WITHIN GROUP (ORDER BY extract(epoch FROM f.closed_at - f.created_at) / 86400))::numeric, 1)
          FROM reporting.lead_facts(p_from, p_to) AS f
         WHERE f.converted
         GROUP BY 1
         ORDER BY 3;
END
$$;
COMMENT ON FUNCTION reporting.time_to_conversion_by_property_type(date, date) IS
    'Task 4.1: days from capture to conversion per property type (mean, median, 90th percentile) for leads created in '
    'the window and converted. Example: SELECT * FROM reporting.time_to_conversion_by_property_type(''2026-01-01'', NULL);'
    ' SECURITY DEFINER: reads crm on behalf of the BI login, which may read reporting only.';

-- 4.1 monthly lead volume trends
CREATE OR REPLACE VIEW reporting.monthly_lead_volume AS
SELECT f.created_month AS month, f.source_type, count(*) AS leads,
       count(*) FILTER (WHERE f.converted) AS converted, count(*) FILTER (WHERE f.lost) AS lost,
       round(100.0 * count(*) / nullif(sum(count(*)) OVER (PARTITION BY f.created_month), 0), 1) AS share_of_month_pct,
       count(*) - lag(count(*)) OVER (PARTITION BY f.source_type ORDER BY f.created_month) AS change_vs_previous_month
  FROM reporting.lead_facts() AS f
 GROUP BY f.created_month, f.source_type;
COMMENT ON VIEW reporting.monthly_lead_volume IS
    'Task 4.1: leads captured per Asia/Dubai month and source, their outcomes so far, the source''s share of the month and '
    'the change from the previous month. Example: SELECT * FROM reporting.monthly_lead_volume WHERE month >= ''2026-01-01'' '
    'ORDER BY month, source_type;';

-- 4.1 agent performance rankings
CREATE OR REPLACE FUNCTION reporting.agent_rankings(p_from date DEFAULT NULL, p_to date DEFAULT NULL)
RETURNS TABLE (agent_id uuid, full_name text, conversions bigint, conversion_rate numeric, revenue_aed numeric,
               avg_response_hours numeric, revenue_rank bigint, conversion_rank bigint, response_rank bigint,
               overall_rank bigint)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = '' SET work_mem = '64MB'
AS $$
#variable_conflict use_column
BEGIN
    RETURN QUERY
        WITH c AS (SELECT * FROM reporting.conversion_by_agent(p_from, p_to)),
        r AS (
            SELECT c.*, rank() OVER (ORDER BY c.revenue_aed DESC) AS rr,
                   rank() OVER (ORDER BY c.conversion_rate DESC NULLS LAST) AS cr,
                   rank() OVER (ORDER BY c.avg_response_hours NULLS LAST) AS sr
              FROM c)
        SELECT r.agent_id, r.full_name, r.converted, r.conversion_rate, r.revenue_aed, r.avg_response_hours, r.rr, r.cr, r.sr,
               rank() OVER (ORDER BY r.rr + r.cr + r.sr, r.revenue_aed DESC)
          FROM r
         ORDER BY 10;
END
$$;
COMMENT ON FUNCTION reporting.agent_rankings(date, date) IS
    'Task 4.1: agents ranked by revenue, by conversion rate and by response time over leads created in the window, and '
    'overall (the sum of the three ranks). Example: SELECT * FROM reporting.agent_rankings(current_date - 90, NULL);'
    ' SECURITY DEFINER: reads crm on behalf of the BI login, which may read reporting only.';

-- 4.1 revenue attribution by lead source
CREATE OR REPLACE FUNCTION reporting.revenue_by_source(p_from date DEFAULT NULL, p_to date DEFAULT NULL)
RETURNS TABLE (source_type text, conversions bigint, revenue_aed numeric, share_pct numeric, avg_deal_aed numeric)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = '' SET work_mem = '64MB'
AS $$
#variable_conflict use_column
BEGIN
    RETURN QUERY
        SELECT f.source_type, count(*), sum(f.deal_value_aed),
               round(100 * sum(f.deal_value_aed) / nullif(sum(sum(f.deal_value_aed)) OVER (), 0), 1),
               round(avg(f.deal_value_aed), 0)
          FROM reporting.lead_facts(p_from, p_to) AS f
         WHERE f.converted
         GROUP BY f.source_type
         ORDER BY 3 DESC;
END
$$;
COMMENT ON FUNCTION reporting.revenue_by_source(date, date) IS
    'Task 4.1: deal value of converted leads per source (last-touch: the source the lead came in through), its share of '
    'all revenue and the mean deal. Example: SELECT * FROM reporting.revenue_by_source(''2026-01-01'', ''2026-12-31'');'
    ' SECURITY DEFINER: reads crm on behalf of the BI login, which may read reporting only.';

-- 4.2 high-scoring leads that did not convert, and what went wrong
CREATE OR REPLACE FUNCTION reporting.high_score_not_converted(p_from date DEFAULT NULL, p_to date DEFAULT NULL,
                                                            p_min_score integer DEFAULT 80,
                                                            p_limit integer DEFAULT NULL)
RETURNS TABLE (lead_id uuid, source_type text, agent_id uuid, capture_score integer, score integer,
               status crm.lead_status, issue text, response_hours numeric, lost_reason text)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = '' SET work_mem = '64MB'
AS $$
#variable_conflict use_column
BEGIN
    RETURN QUERY
        SELECT f.lead_id, f.source_type, f.agent_id, f.capture_score, f.score, f.status,
               CASE WHEN f.response_seconds IS NULL THEN 'no_response'
                    WHEN f.response_seconds > 24 * 3600 THEN 'slow_response'
                    WHEN f.lost THEN 'lost'
                    ELSE 'stalled' END,
               round(f.response_seconds / 3600.0, 1), f.lost_reason
          FROM reporting.lead_facts(p_from, p_to) AS f
         WHERE f.capture_score >= p_min_score AND NOT f.converted
           AND (f.lost OR f.created_at < now() - interval '30 days')
         ORDER BY f.capture_score DESC, f.created_at
         LIMIT p_limit;
END
$$;
COMMENT ON FUNCTION reporting.high_score_not_converted(date, date, integer, integer) IS
    'Task 4.2: leads that scored at least p_min_score (80) at capture and were lost, or are still open after 30 days, '
    'with the likely issue: no_response (never contacted), slow_response (first contact after 24 h), lost (with the '
    'reason), stalled; highest capture score first, the first p_limit (NULL: all). '
    'Example: SELECT issue, count(*) FROM reporting.high_score_not_converted() GROUP BY issue;'
    ' SECURITY DEFINER: reads crm on behalf of the BI login, which may read reporting only.';

-- 4.2 low-scoring leads that converted
CREATE OR REPLACE FUNCTION reporting.low_score_converted(p_from date DEFAULT NULL, p_to date DEFAULT NULL,
                                                       p_max_score integer DEFAULT 50,
                                                       p_limit integer DEFAULT NULL)
RETURNS TABLE (lead_id uuid, source_type text, property_type crm.property_type, agent_id uuid, capture_score integer,
               deal_value_aed numeric, days_to_convert numeric, response_hours numeric)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = '' SET work_mem = '64MB'
AS $$
#variable_conflict use_column
BEGIN
    RETURN QUERY
        SELECT f.lead_id, f.source_type, f.property_type, f.agent_id, f.capture_score, f.deal_value_aed,
               round((extract(epoch FROM f.closed_at - f.created_at) / 86400)::numeric, 1), round(f.response_seconds / 3600.0, 1)
          FROM reporting.lead_facts(p_from, p_to) AS f
         WHERE f.converted AND f.capture_score < p_max_score
         ORDER BY f.deal_value_aed DESC NULLS LAST
         LIMIT p_limit;
END
$$;
COMMENT ON FUNCTION reporting.low_score_converted(date, date, integer, integer) IS
    'Task 4.2: leads that scored under p_max_score (50) at capture and still converted: what the scoring rules missed; '
    'largest deal first, the first p_limit (NULL: all). '
    'Example: SELECT source_type, count(*), sum(deal_value_aed) FROM reporting.low_score_converted() GROUP BY 1;'
    ' SECURITY DEFINER: reads crm on behalf of the BI login, which may read reporting only.';

-- 4.2 source quality over time
CREATE OR REPLACE VIEW reporting.source_quality_monthly AS
SELECT f.created_month AS month, f.source_type, s.quality_score AS configured_quality, count(*) AS leads,
       round(avg(f.capture_score), 1) AS avg_capture_score,
       crm.conversion_rate(count(*) FILTER (WHERE f.converted), count(*) FILTER (WHERE f.lost))
           AS conversion_rate,
       round(avg(f.response_seconds) / 3600.0, 1) AS avg_response_hours,
       coalesce(sum(f.deal_value_aed), 0) AS revenue_aed
  FROM reporting.lead_facts() AS f
  JOIN crm.lead_sources AS s USING (source_type)
 GROUP BY f.created_month, f.source_type, s.quality_score;
COMMENT ON VIEW reporting.source_quality_monthly IS
    'Task 4.2: per Asia/Dubai month and source, the configured quality, the mean capture score, the conversion rate, the '
    'response time and revenue: is a source''s quality_score still right? Example: SELECT * FROM '
    'reporting.source_quality_monthly WHERE source_type = ''dubizzle'' ORDER BY month;';

-- 4.2 optimal follow-up timing, and 4.3 response time against conversion
CREATE OR REPLACE FUNCTION reporting.response_time_conversion(p_from date DEFAULT NULL, p_to date DEFAULT NULL)
RETURNS TABLE (response_window text, window_order integer, leads bigint, closed bigint, converted bigint,
               conversion_rate numeric, correlation numeric)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = '' SET work_mem = '64MB'
AS $$
#variable_conflict use_column
BEGIN
    RETURN QUERY
        SELECT (ARRAY['under 1 hour', '1 to 4 hours', '4 to 24 hours', '1 to 3 days', 'over 3 days', 'never contacted'])[c.bucket],
               c.bucket, count(*), count(*) FILTER (WHERE c.converted OR c.lost), count(*) FILTER (WHERE c.converted),
               crm.conversion_rate(count(*) FILTER (WHERE c.converted), count(*) FILTER (WHERE c.lost)),
               (SELECT round(corr(x.response_seconds, x.converted::integer)::numeric, 3)
                  FROM reporting.lead_facts(p_from, p_to) AS x
                 WHERE (x.converted OR x.lost) AND x.response_seconds IS NOT NULL)
          FROM (SELECT CASE WHEN f.response_seconds IS NULL THEN 6
                            WHEN f.response_seconds < 3600 THEN 1 WHEN f.response_seconds < 4 * 3600 THEN 2
                            WHEN f.response_seconds < 24 * 3600 THEN 3 WHEN f.response_seconds < 72 * 3600 THEN 4
                            ELSE 5 END AS bucket, f.converted, f.lost
                  FROM reporting.lead_facts(p_from, p_to) AS f) AS c
         GROUP BY c.bucket
         ORDER BY c.bucket;
END
$$;
COMMENT ON FUNCTION reporting.response_time_conversion(date, date) IS
    'Tasks 4.2 and 4.3: conversion rate of closed leads by first-response window (under 1 h ... over 3 days, never), the '
    'best follow-up timing, and corr(response seconds, converted) over all closed contacted leads (negative: faster '
    'answers convert more). Example: SELECT * FROM reporting.response_time_conversion(current_date - 180, NULL);'
    ' SECURITY DEFINER: reads crm on behalf of the BI login, which may read reporting only.';

-- 4.3 agents approaching maximum capacity
CREATE OR REPLACE VIEW reporting.agents_near_capacity AS
SELECT w.agent_id, w.full_name, w.active_leads, w.max_active_leads, w.free_capacity, w.utilisation_pct,
       (SELECT count(*) FROM crm.follow_up_tasks AS t WHERE t.agent_id = w.agent_id AND t.status = 'open'
           AND t.due_at < now()) AS overdue_follow_ups
  FROM reporting.agent_workload AS w
 WHERE w.is_active AND w.role = 'agent' AND (w.utilisation_pct >= 90 OR w.free_capacity <= 5);
COMMENT ON VIEW reporting.agents_near_capacity IS
    'Task 4.3: active agents at 90 % of their capacity or with 5 or fewer free slots, with their overdue follow-ups: '
    'who needs relief (the balancing sweep moves leads above workload_balance_threshold). '
    'Example: SELECT * FROM reporting.agents_near_capacity ORDER BY utilisation_pct DESC;';

-- 4.3 specialised versus general agents
CREATE OR REPLACE FUNCTION reporting.specialist_vs_generalist(p_from date DEFAULT NULL, p_to date DEFAULT NULL)
RETURNS TABLE (agent_kind text, lead_match text, agents bigint, leads bigint, conversion_rate numeric,
               avg_deal_aed numeric, avg_response_hours numeric)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = '' SET work_mem = '64MB'
AS $$
#variable_conflict use_column
BEGIN
    RETURN QUERY
        -- per agent and property type first (a parallel hash aggregate over the snapshot), then per kind of agent
        WITH per AS (
            SELECT f.agent_id, f.property_type, count(*) AS n, count(*) FILTER (WHERE f.converted) AS won,
                   count(*) FILTER (WHERE f.converted OR f.lost) AS closed, sum(f.deal_value_aed) AS deal_sum,
                   count(f.deal_value_aed) AS deals, sum(f.response_seconds) AS response_sum,
                   count(f.response_seconds) AS responses
              FROM reporting.lead_facts(p_from, p_to) AS f
             WHERE f.agent_id IS NOT NULL
             GROUP BY f.agent_id, f.property_type)
        SELECT CASE WHEN cardinality(g.property_types) > 0 THEN 'specialist' ELSE 'generalist' END,
               CASE WHEN cardinality(g.property_types) = 0 THEN 'any'
                    WHEN p.property_type = ANY (g.property_types) THEN 'in specialty' ELSE 'outside specialty' END,
               count(DISTINCT g.agent_id), sum(p.n)::bigint,
               crm.conversion_rate(sum(p.won), sum(p.closed) - sum(p.won)),
               round(sum(p.deal_sum) / nullif(sum(p.deals), 0), 0),
               round(sum(p.response_sum) / nullif(sum(p.responses), 0) / 3600.0, 1)
          FROM per AS p
          JOIN crm.agents AS g ON g.agent_id = p.agent_id
         WHERE g.role = 'agent'
         GROUP BY 1, 2
         ORDER BY 1, 2;
END
$$;
COMMENT ON FUNCTION reporting.specialist_vs_generalist(date, date) IS
    'Task 4.3: conversion rate, deal size and response time of specialist agents (with property-type specialisations) on '
    'leads in and outside their specialty, against generalists. Example: SELECT * FROM reporting.specialist_vs_generalist();'
    ' SECURITY DEFINER: reads crm on behalf of the BI login, which may read reporting only.';
