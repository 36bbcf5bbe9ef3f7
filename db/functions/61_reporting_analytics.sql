-- Analytics for psql users, BI tools and GET /api/v1/analytics/...: one object per question of the brief's
-- Task 4. Time-windowed questions are set-returning functions taking an optional [p_from, p_to] of dates in the
-- timezone setting (NULL = all time), on the lead's capture date or, where a question is about closing (p_dated_by
-- => 'close'), on its close date; current-state questions are views. All read crm with the owner's rights (SECURITY
-- DEFINER functions, owner-run views), so the BI login needs only reporting.
-- docs/analytics.md defines every figure once (what is counted, from when to when, who is included, what NULL means),
-- with examples; db/queries/4_*.sql run them.
--
-- Two rules hold in every object here and in the dashboard:
--   * response time is the agent's: from the moment a lead was assigned to that agent to that agent's first contact
--     on it (crm.lead_assignments.response_seconds, 0020; in the snapshot agent_response_seconds). The lead's own time
--     to first contact, from capture, by anyone, is first_contact_seconds and is named so wherever it appears.
--   * everyone who holds leads is counted, agents and supervisors alike, active or not (role is a column where it
--     matters); a ranking ranks only who has enough data behind it (ranking_min_closed_leads, ranking_min_responses).

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

-- the score review thresholds (the setting score_review), for the same readers
CREATE OR REPLACE FUNCTION reporting.score_review()
RETURNS jsonb
LANGUAGE sql
STABLE
PARALLEL SAFE
SECURITY DEFINER
SET search_path = ''
AS $$
    SELECT crm.setting('score_review')
$$;
COMMENT ON FUNCTION reporting.score_review() IS
    'The thresholds of the Task 4.2 lists (setting score_review: high_score_min 80, low_score_max 50, stalled_after '
    '30 days, slow_response_after 24 hours as shipped). SECURITY DEFINER: the reporting login may not read crm.settings.';

-- crm.check_dated_by(dated_by): which date a report's window applies to: capture (the cohort view, the default) or
-- close. Errors: PT422 invalid_report_parameter.
CREATE OR REPLACE FUNCTION crm.check_dated_by(p_dated_by text)
RETURNS void
LANGUAGE plpgsql
IMMUTABLE
SET search_path = ''
AS $$
BEGIN
    IF p_dated_by IS NULL OR p_dated_by NOT IN ('capture', 'close') THEN
        RAISE EXCEPTION 'dated_by is capture or close, not %', coalesce(pg_catalog.quote_literal(left(p_dated_by, 40)), 'null')
            USING ERRCODE = 'PT422', CONSTRAINT = 'invalid_report_parameter',
                  HINT = 'capture: leads captured in the window (cohorts); close: leads closed in it.';
    END IF;
END
$$;
COMMENT ON FUNCTION crm.check_dated_by(text) IS
    'Refuses a p_dated_by other than capture or close. Errors: PT422 invalid_report_parameter.';

-- the leads of a window, from the analytics snapshot (see 0011, 0016, 0020): a plain SQL function, so the planner
-- inlines it into each report and the window becomes an index condition on created_at; PARALLEL SAFE, or no report
-- using it could get a parallel plan (the planner decides that before inlining). A setting read in a building block
-- is a scalar subquery, run once per statement (an InitPlan), never once per row.
CREATE OR REPLACE FUNCTION reporting.lead_facts(p_from date DEFAULT NULL, p_to date DEFAULT NULL)
RETURNS SETOF reporting.lead_facts_snapshot
LANGUAGE sql
STABLE
PARALLEL SAFE
AS $$
    SELECT f.*
      FROM reporting.lead_facts_snapshot AS f
     WHERE f.created_at >= coalesce(p_from::timestamp AT TIME ZONE (SELECT reporting.business_timezone()), '-infinity')
       AND f.created_at < coalesce((p_to + 1)::timestamp AT TIME ZONE (SELECT reporting.business_timezone()), 'infinity')
$$;
COMMENT ON FUNCTION reporting.lead_facts(date, date) IS
    'Building block: leads captured between p_from and p_to (dates in the timezone setting, inclusive; NULL = no '
    'bound) with their current agent, month, outcome, deal value, current and capture score, the agent''s response '
    'seconds, the lead''s first-contact seconds and lost reason, as of the analytics snapshot (reporting.analytics_freshness).';

-- the leads of a window dated by capture (reporting.lead_facts) or by close: one of the two branches runs (the other's
-- one-time filter is false), each over its own index
CREATE OR REPLACE FUNCTION reporting.dated_lead_facts(p_from date, p_to date, p_dated_by text)
RETURNS SETOF reporting.lead_facts_snapshot
LANGUAGE sql
STABLE
PARALLEL SAFE
AS $$
    SELECT f.* FROM reporting.lead_facts(p_from, p_to) AS f WHERE p_dated_by = 'capture'
    UNION ALL
    SELECT f.*
      FROM reporting.lead_facts_snapshot AS f
     WHERE p_dated_by = 'close'
       AND f.closed_at >= coalesce(p_from::timestamp AT TIME ZONE (SELECT reporting.business_timezone()), '-infinity')
       AND f.closed_at < coalesce((p_to + 1)::timestamp AT TIME ZONE (SELECT reporting.business_timezone()), 'infinity')
$$;
COMMENT ON FUNCTION reporting.dated_lead_facts(date, date, text) IS
    'Building block: with p_dated_by capture, the leads captured in the window (reporting.lead_facts); with close, the '
    'leads closed (converted or lost) in it. Days in the timezone setting, inclusive; NULL = no bound.';

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

-- the calendar months the snapshot spans: every month from the one of its first capture to the one it was taken in,
-- empty ones included, each with its bounds and whether it is partial (the snapshot was taken before it ended; then
-- elapsed is how far into the month it was taken)
DROP VIEW IF EXISTS reporting.monthly_lead_volume, reporting.source_quality_monthly, reporting.snapshot_months;
CREATE VIEW reporting.snapshot_months AS
WITH span AS (
    SELECT l.refreshed_at AS as_of, reporting.business_timezone() AS tz,
           (SELECT min(f.created_at) FROM reporting.lead_facts_snapshot AS f) AS first_at,
           (SELECT max(f.created_at) FROM reporting.lead_facts_snapshot AS f) AS last_at
      FROM crm.analytics_snapshot_log AS l
     WHERE l.snapshot = 'lead_facts'
), months AS (
    SELECT g.at::date AS month, g.at AT TIME ZONE s.tz AS starts_at, (g.at + interval '1 month') AT TIME ZONE s.tz AS ends_at,
           s.as_of
      FROM span AS s
     CROSS JOIN LATERAL pg_catalog.generate_series(date_trunc('month', s.first_at AT TIME ZONE s.tz),
                                                   date_trunc('month', greatest(s.as_of, s.last_at) AT TIME ZONE s.tz),
                                                   interval '1 month') AS g (at)
     WHERE s.first_at IS NOT NULL
)
SELECT m.month, m.starts_at, m.ends_at, m.ends_at > m.as_of AS partial,
       CASE WHEN m.ends_at > m.as_of THEN greatest(m.as_of - m.starts_at, interval '0') END AS elapsed
  FROM months AS m;
COMMENT ON VIEW reporting.snapshot_months IS
    'Building block: the calendar months (timezone setting) from the first captured lead to the analytics snapshot''s '
    'time, empty months included, with their bounds; partial is true for a month the snapshot was taken before the '
    'end of (the current one), elapsed how far into it. Example: SELECT * FROM reporting.snapshot_months WHERE partial;';

-- 4.1 conversion rates by source
DROP FUNCTION IF EXISTS reporting.conversion_by_source(date, date);
CREATE OR REPLACE FUNCTION reporting.conversion_by_source(p_from date DEFAULT NULL, p_to date DEFAULT NULL,
                                                          p_dated_by text DEFAULT 'capture')
RETURNS TABLE (source_type text, leads bigint, open_leads bigint, converted bigint, lost bigint,
               conversion_rate numeric, revenue_aed numeric)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = '' SET work_mem = '64MB'
AS $$
#variable_conflict use_column
BEGIN
    PERFORM crm.check_dated_by(p_dated_by);
    RETURN QUERY
        SELECT f.source_type, count(*), count(*) FILTER (WHERE NOT f.converted AND NOT f.lost),
               count(*) FILTER (WHERE f.converted), count(*) FILTER (WHERE f.lost),
               crm.conversion_rate(count(*) FILTER (WHERE f.converted), count(*) FILTER (WHERE f.lost)),
               coalesce(sum(f.deal_value_aed), 0)
          FROM reporting.dated_lead_facts(p_from, p_to, p_dated_by) AS f
         GROUP BY f.source_type
         ORDER BY 6 DESC NULLS LAST, 1;
END
$$;
COMMENT ON FUNCTION reporting.conversion_by_source(date, date, text) IS
    'Task 4.1: per source, the leads of the window (captured in it, or with p_dated_by => ''close'' closed in it), still '
    'open, converted, lost, conversion rate (converted / closed, %) and revenue. '
    'Example: SELECT * FROM reporting.conversion_by_source(''2026-01-01'', ''2026-06-30'');'
    ' SECURITY DEFINER: reads crm on behalf of the BI login, which may read reporting only.';

-- per agent, unrounded: what conversion_by_agent shows and agent_rankings ranks (the one aggregation of both)
DROP FUNCTION IF EXISTS reporting.agent_figures(date, date, text);
CREATE FUNCTION reporting.agent_figures(p_from date, p_to date, p_dated_by text)
RETURNS TABLE (agent_id uuid, leads bigint, converted bigint, lost bigint, revenue_aed numeric, responses bigint,
               mean_response_seconds numeric)
LANGUAGE sql
STABLE
PARALLEL SAFE
AS $$
    SELECT f.agent_id, count(*), count(*) FILTER (WHERE f.converted), count(*) FILTER (WHERE f.lost),
           coalesce(sum(f.deal_value_aed), 0), count(f.agent_response_seconds), avg(f.agent_response_seconds)
      FROM reporting.dated_lead_facts(p_from, p_to, p_dated_by) AS f
     WHERE f.agent_id IS NOT NULL
     GROUP BY f.agent_id
$$;
COMMENT ON FUNCTION reporting.agent_figures(date, date, text) IS
    'Building block: per agent holding (or having closed) leads of the window, their leads, converted, lost, revenue, '
    'measured responses and mean response seconds (assignment to that agent''s first contact), unrounded.';

-- 4.1 conversion rates by agent
DROP FUNCTION IF EXISTS reporting.conversion_by_agent(date, date);
DROP FUNCTION IF EXISTS reporting.conversion_by_agent(date, date, text);
CREATE FUNCTION reporting.conversion_by_agent(p_from date DEFAULT NULL, p_to date DEFAULT NULL,
                                              p_dated_by text DEFAULT 'capture')
RETURNS TABLE (agent_id uuid, full_name text, role crm.agent_role, leads bigint, converted bigint, lost bigint,
               conversion_rate numeric, revenue_aed numeric, avg_response_hours numeric)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = '' SET work_mem = '64MB'
AS $$
#variable_conflict use_column
BEGIN
    PERFORM crm.check_dated_by(p_dated_by);
    RETURN QUERY
        SELECT g.agent_id, g.full_name::text, g.role, a.leads, a.converted, a.lost,
               crm.conversion_rate(a.converted, a.lost), a.revenue_aed, round(a.mean_response_seconds / 3600.0, 1)
          FROM reporting.agent_figures(p_from, p_to, p_dated_by) AS a
          JOIN crm.agents AS g ON g.agent_id = a.agent_id
         ORDER BY 7 DESC NULLS LAST, 8 DESC, 2, 1;
END
$$;
COMMENT ON FUNCTION reporting.conversion_by_agent(date, date, text) IS
    'Task 4.1: per agent or supervisor holding (or having closed) leads of the window (captured in it, or with '
    'p_dated_by => ''close'' closed in it), leads, converted, lost, conversion rate (%), revenue and mean response time '
    '(from the assignment to the agent''s first contact). Example: SELECT * FROM reporting.conversion_by_agent() LIMIT 10;'
    ' SECURITY DEFINER: reads crm on behalf of the BI login, which may read reporting only.';

-- 4.1 average time to conversion by property type
DROP FUNCTION IF EXISTS reporting.time_to_conversion_by_property_type(date, date);
CREATE OR REPLACE FUNCTION reporting.time_to_conversion_by_property_type(p_from date DEFAULT NULL, p_to date DEFAULT NULL,
                                                                         p_dated_by text DEFAULT 'capture')
RETURNS TABLE (property_type text, conversions bigint, avg_days numeric, median_days numeric, p90_days numeric)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = '' SET work_mem = '64MB'
AS $$
#variable_conflict use_column
BEGIN
    PERFORM crm.check_dated_by(p_dated_by);
    RETURN QUERY
        SELECT coalesce(f.property_type::text, 'unspecified'), count(*),
               round(avg(extract(epoch FROM f.closed_at - f.created_at) / 86400)::numeric, 1),
               round((percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM f.closed_at - f.created_at) / 86400))::numeric, 1),
               round((percentile_cont(0.9) WITHIN GROUP (ORDER BY extract(epoch FROM f.closed_at - f.created_at) / 86400))::numeric, 1)
          FROM reporting.dated_lead_facts(p_from, p_to, p_dated_by) AS f
         WHERE f.converted
         GROUP BY 1
         ORDER BY 3, 1;
END
$$;
COMMENT ON FUNCTION reporting.time_to_conversion_by_property_type(date, date, text) IS
    'Task 4.1: days from capture to conversion per property type (mean, median, 90th percentile) for the converted '
    'leads of the window (captured in it, or with p_dated_by => ''close'' converted in it). '
    'Example: SELECT * FROM reporting.time_to_conversion_by_property_type(''2026-01-01'', NULL);'
    ' SECURITY DEFINER: reads crm on behalf of the BI login, which may read reporting only.';

-- 4.1 monthly lead volume trends: every month and source, empty ones as 0; the change against the calendar month
-- before (for the partial current month, against the month before up to the same point of it)
CREATE VIEW reporting.monthly_lead_volume AS
WITH counts AS (
    SELECT f.created_month AS month, f.source_type, count(*) AS leads,
           count(*) FILTER (WHERE f.converted) AS converted, count(*) FILTER (WHERE f.lost) AS lost
      FROM reporting.lead_facts() AS f
     GROUP BY f.created_month, f.source_type
), same_point AS (   -- the month before the partial one, up to as far into it as the partial month has gone
    SELECT f.source_type, count(*) AS leads
      FROM reporting.snapshot_months AS p
      JOIN reporting.snapshot_months AS b ON b.month = (p.month - interval '1 month')::date
      JOIN reporting.lead_facts_snapshot AS f
        ON f.created_at >= b.starts_at AND f.created_at < least(b.starts_at + p.elapsed, b.ends_at)
     WHERE p.partial
     GROUP BY f.source_type
), grid AS (
    SELECT m.month, s.source_type, m.partial, coalesce(c.leads, 0) AS leads, coalesce(c.converted, 0) AS converted,
           coalesce(c.lost, 0) AS lost,
           CASE WHEN lag(m.month) OVER w IS NULL THEN NULL   -- the first month: nothing to compare with
                WHEN m.partial THEN coalesce(p.leads, 0)
                ELSE lag(coalesce(c.leads, 0)) OVER w END AS compared_with
      FROM reporting.snapshot_months AS m
     CROSS JOIN crm.lead_sources AS s
      LEFT JOIN counts AS c ON c.month = m.month AND c.source_type = s.source_type
      LEFT JOIN same_point AS p ON m.partial AND p.source_type = s.source_type
    WINDOW w AS (PARTITION BY s.source_type ORDER BY m.month)
)
SELECT g.month, g.source_type, g.partial, g.leads, g.converted, g.lost,
       round(100.0 * g.leads / nullif(sum(g.leads) OVER (PARTITION BY g.month), 0), 1) AS share_of_month_pct,
       g.leads - g.compared_with AS change_vs_previous_month,
       round(100.0 * (g.leads - g.compared_with) / nullif(g.compared_with, 0), 1) AS change_vs_previous_month_pct
  FROM grid AS g;
COMMENT ON VIEW reporting.monthly_lead_volume IS
    'Task 4.1: leads captured per calendar month (timezone setting) and source, every month and source (empty ones '
    'as 0), their outcomes so far, the source''s share of the month, and the change in leads (a count, and %) against '
    'the month before; partial marks the current month, which is compared with the month before up to the same point '
    '(day and hour) of it. Example: SELECT * FROM reporting.monthly_lead_volume WHERE month >= ''2026-01-01'' '
    'ORDER BY month, source_type;';

-- 4.1 agent performance rankings
DROP FUNCTION IF EXISTS reporting.agent_rankings(date, date);
DROP FUNCTION IF EXISTS reporting.agent_rankings(date, date, text);
CREATE FUNCTION reporting.agent_rankings(p_from date DEFAULT NULL, p_to date DEFAULT NULL,
                                         p_dated_by text DEFAULT 'capture')
RETURNS TABLE (agent_id uuid, full_name text, role crm.agent_role, closed_leads bigint, conversions bigint,
               conversion_rate numeric, revenue_aed numeric, responses bigint, avg_response_hours numeric,
               revenue_rank bigint, conversion_rank bigint, response_rank bigint, overall_rank bigint,
               not_ranked_reason text)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = '' SET work_mem = '64MB'
AS $$
#variable_conflict use_column
DECLARE
    v_min_closed    integer := (crm.setting('ranking_min_closed_leads') #>> '{}')::integer;
    v_min_responses integer := (crm.setting('ranking_min_responses') #>> '{}')::integer;
BEGIN
    PERFORM crm.check_dated_by(p_dated_by);
    RETURN QUERY
        WITH a AS (
            SELECT x.*, g.full_name::text AS name, g.role AS agent_role, x.converted + x.lost AS closed,
                   x.converted / nullif(x.converted + x.lost, 0)::numeric AS won_share,   -- unrounded
                   CASE WHEN x.converted + x.lost < v_min_closed THEN 'too_few_closed_leads'
                        WHEN x.responses < v_min_responses THEN 'too_few_responses' END AS reason
              FROM reporting.agent_figures(p_from, p_to, p_dated_by) AS x
              JOIN crm.agents AS g ON g.agent_id = x.agent_id
        ), ranked AS (   -- only who has enough data; equal values share a place (1, 1, 3)
            SELECT a.agent_id, rank() OVER (ORDER BY a.revenue_aed DESC) AS rr,
                   rank() OVER (ORDER BY a.won_share DESC NULLS LAST) AS cr,
                   rank() OVER (ORDER BY a.mean_response_seconds NULLS LAST) AS sr
              FROM a
             WHERE a.reason IS NULL
        ), overall AS (  -- the sum of the three places; equal sums by revenue, then conversion, then response
            SELECT r.*, rank() OVER (ORDER BY r.rr + r.cr + r.sr, a.revenue_aed DESC, a.won_share DESC NULLS LAST,
                                              a.mean_response_seconds NULLS LAST) AS place
              FROM ranked AS r
              JOIN a ON a.agent_id = r.agent_id
        )
        SELECT a.agent_id, a.name, a.agent_role, a.closed, a.converted, crm.conversion_rate(a.converted, a.lost),
               a.revenue_aed, a.responses, round(a.mean_response_seconds / 3600.0, 1), o.rr, o.cr, o.sr, o.place,
               a.reason
          FROM a
          LEFT JOIN overall AS o ON o.agent_id = a.agent_id
         ORDER BY o.place NULLS LAST, a.closed DESC, a.name, a.agent_id;
END
$$;
COMMENT ON FUNCTION reporting.agent_rankings(date, date, text) IS
    'Task 4.1: agents and supervisors with leads in the window, ranked by revenue, by conversion rate and by response '
    'time (unrounded; equal values share a place) and overall (the sum of the three places; equal sums by revenue, then '
    'conversion rate, then response time) among those with at least ranking_min_closed_leads closed leads and '
    'ranking_min_responses responses; the others follow with not_ranked_reason too_few_closed_leads or '
    'too_few_responses. Example: SELECT * FROM reporting.agent_rankings(current_date - 90, NULL);'
    ' SECURITY DEFINER: reads crm on behalf of the BI login, which may read reporting only.';

-- 4.1 revenue attribution by lead source
DROP FUNCTION IF EXISTS reporting.revenue_by_source(date, date);
CREATE OR REPLACE FUNCTION reporting.revenue_by_source(p_from date DEFAULT NULL, p_to date DEFAULT NULL,
                                                       p_dated_by text DEFAULT 'capture')
RETURNS TABLE (source_type text, conversions bigint, revenue_aed numeric, share_pct numeric, avg_deal_aed numeric)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = '' SET work_mem = '64MB'
AS $$
#variable_conflict use_column
BEGIN
    PERFORM crm.check_dated_by(p_dated_by);
    RETURN QUERY
        SELECT f.source_type, count(*), coalesce(sum(f.deal_value_aed), 0),
               round(100 * sum(f.deal_value_aed) / nullif(sum(sum(f.deal_value_aed)) OVER (), 0), 1),
               round(avg(f.deal_value_aed), 0)
          FROM reporting.dated_lead_facts(p_from, p_to, p_dated_by) AS f
         WHERE f.converted
         GROUP BY f.source_type
         ORDER BY 3 DESC, 1;
END
$$;
COMMENT ON FUNCTION reporting.revenue_by_source(date, date, text) IS
    'Task 4.1: deal value of converted leads per source (last-touch: the source the lead came in through), its share of '
    'all revenue and the mean deal, for leads captured in the window (cohorts) or, with p_dated_by => ''close'', '
    'converted in it (booked revenue). Example: SELECT * FROM reporting.revenue_by_source(''2026-01-01'', ''2026-06-30'', ''close'');'
    ' SECURITY DEFINER: reads crm on behalf of the BI login, which may read reporting only.';

-- 4.2 high-scoring leads that did not convert: which leads (the rule, once: the list pages over it, the API counts it)
CREATE OR REPLACE FUNCTION reporting.high_score_not_converted_leads(p_from date DEFAULT NULL, p_to date DEFAULT NULL,
                                                                    p_min_score integer DEFAULT NULL)
RETURNS SETOF reporting.lead_facts_snapshot
LANGUAGE sql
STABLE
PARALLEL SAFE
AS $$
    SELECT f.*
      FROM reporting.lead_facts(p_from, p_to) AS f
     WHERE f.capture_score >= coalesce(p_min_score, (SELECT (reporting.score_review() ->> 'high_score_min')::integer))
       AND NOT f.converted
       AND (f.lost OR f.created_at < now() - (SELECT (reporting.score_review() ->> 'stalled_after')::interval))
$$;
COMMENT ON FUNCTION reporting.high_score_not_converted_leads(date, date, integer) IS
    'Building block: the leads captured in the window at p_min_score or more (default score_review.high_score_min, '
    '80) that were lost, or are open after score_review.stalled_after (30 days). '
    'Example: SELECT count(*) FROM reporting.high_score_not_converted_leads();';

-- 4.2 the list, in pages: highest capture score first, then the earliest captured (lead_id breaks ties); p_after is
-- the last lead of the page before (a keyset cursor over lead_facts_snapshot_high_score_idx). Errors: PT422
-- invalid_cursor (p_after is no lead of the snapshot).
DROP FUNCTION IF EXISTS reporting.high_score_not_converted(date, date, integer, integer);
DROP FUNCTION IF EXISTS reporting.high_score_not_converted(date, date, integer, integer, uuid);
CREATE FUNCTION reporting.high_score_not_converted(p_from date DEFAULT NULL, p_to date DEFAULT NULL,
                                                   p_min_score integer DEFAULT NULL, p_limit integer DEFAULT NULL,
                                                   p_after uuid DEFAULT NULL)
RETURNS TABLE (lead_id uuid, source_type text, agent_id uuid, capture_score integer, score integer,
               status crm.lead_status, issue text, first_contact_hours numeric, response_hours numeric,
               lost_reason text)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = '' SET work_mem = '64MB'
AS $$
#variable_conflict use_column
DECLARE
    v_slow    numeric := extract(epoch FROM (crm.setting('score_review') ->> 'slow_response_after')::interval);
    -- the position after which the page starts; without p_after, before the first row (the list's scores are 0..100)
    v_score   integer := 2147483647;
    v_created timestamptz := '-infinity';
    v_lead    uuid := '00000000-0000-0000-0000-000000000000';
BEGIN
    IF p_after IS NOT NULL THEN
        SELECT s.capture_score, s.created_at, s.lead_id INTO v_score, v_created, v_lead
          FROM reporting.lead_facts_snapshot AS s WHERE s.lead_id = p_after;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'the cursor names no lead of the analytics snapshot' USING ERRCODE = 'PT422',
                CONSTRAINT = 'invalid_cursor', HINT = 'Start again without a cursor.';
        END IF;
    END IF;
    RETURN QUERY
        SELECT f.lead_id, f.source_type, f.agent_id, f.capture_score, f.score, f.status,
               CASE WHEN f.first_contact_seconds IS NULL THEN 'no_response'
                    WHEN f.first_contact_seconds > v_slow THEN 'slow_response'
                    WHEN f.lost THEN 'lost'
                    ELSE 'stalled' END,
               round(f.first_contact_seconds / 3600.0, 1), round(f.agent_response_seconds / 3600.0, 1), f.lost_reason
          FROM reporting.high_score_not_converted_leads(p_from, p_to, p_min_score) AS f
         WHERE f.capture_score <= v_score
           AND (f.capture_score < v_score OR (f.created_at, f.lead_id) > (v_created, v_lead))
         ORDER BY f.capture_score DESC, f.created_at, f.lead_id
         LIMIT p_limit;
END
$$;
COMMENT ON FUNCTION reporting.high_score_not_converted(date, date, integer, integer, uuid) IS
    'Task 4.2: the leads of reporting.high_score_not_converted_leads with the likely issue: no_response (nobody ever '
    'contacted the lead), slow_response (its first contact came after score_review.slow_response_after, 24 h, from '
    'capture), lost (with the reason), stalled; the lead''s first_contact_hours and its agent''s response_hours; highest '
    'capture score first, then the earliest, then lead_id; the first p_limit (NULL: all) after the lead p_after. '
    'Example: SELECT issue, count(*) FROM reporting.high_score_not_converted() GROUP BY issue;'
    ' SECURITY DEFINER: reads crm on behalf of the BI login, which may read reporting only. Errors: PT422 invalid_cursor.';

-- 4.2 low-scoring leads that converted: which leads
CREATE OR REPLACE FUNCTION reporting.low_score_converted_leads(p_from date DEFAULT NULL, p_to date DEFAULT NULL,
                                                               p_max_score integer DEFAULT NULL)
RETURNS SETOF reporting.lead_facts_snapshot
LANGUAGE sql
STABLE
PARALLEL SAFE
AS $$
    SELECT f.*
      FROM reporting.lead_facts(p_from, p_to) AS f
     WHERE f.converted
       AND f.capture_score < coalesce(p_max_score, (SELECT (reporting.score_review() ->> 'low_score_max')::integer))
$$;
COMMENT ON FUNCTION reporting.low_score_converted_leads(date, date, integer) IS
    'Building block: the converted leads captured in the window under p_max_score (default score_review.low_score_max, '
    '50). Example: SELECT count(*) FROM reporting.low_score_converted_leads();';

-- 4.2 the list, in pages: the largest deal first (a converted lead without a deal value counts 0), lead_id breaking
-- ties; p_after is the last lead of the page before. Errors: PT422 invalid_cursor.
DROP FUNCTION IF EXISTS reporting.low_score_converted(date, date, integer, integer);
DROP FUNCTION IF EXISTS reporting.low_score_converted(date, date, integer, integer, uuid);
CREATE FUNCTION reporting.low_score_converted(p_from date DEFAULT NULL, p_to date DEFAULT NULL,
                                              p_max_score integer DEFAULT NULL, p_limit integer DEFAULT NULL,
                                              p_after uuid DEFAULT NULL)
RETURNS TABLE (lead_id uuid, source_type text, property_type crm.property_type, agent_id uuid, capture_score integer,
               deal_value_aed numeric, days_to_convert numeric, first_contact_hours numeric, response_hours numeric)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = '' SET work_mem = '64MB'
AS $$
#variable_conflict use_column
DECLARE
    v_deal numeric := 'Infinity';   -- without p_after, before the first row
    v_lead uuid := '00000000-0000-0000-0000-000000000000';
BEGIN
    IF p_after IS NOT NULL THEN
        SELECT coalesce(s.deal_value_aed, 0), s.lead_id INTO v_deal, v_lead
          FROM reporting.lead_facts_snapshot AS s WHERE s.lead_id = p_after;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'the cursor names no lead of the analytics snapshot' USING ERRCODE = 'PT422',
                CONSTRAINT = 'invalid_cursor', HINT = 'Start again without a cursor.';
        END IF;
    END IF;
    RETURN QUERY
        SELECT f.lead_id, f.source_type, f.property_type, f.agent_id, f.capture_score, f.deal_value_aed,
               round((extract(epoch FROM f.closed_at - f.created_at) / 86400)::numeric, 1),
               round(f.first_contact_seconds / 3600.0, 1), round(f.agent_response_seconds / 3600.0, 1)
          FROM reporting.low_score_converted_leads(p_from, p_to, p_max_score) AS f
         WHERE coalesce(f.deal_value_aed, 0) <= v_deal
           AND (coalesce(f.deal_value_aed, 0) < v_deal OR f.lead_id > v_lead)
         ORDER BY coalesce(f.deal_value_aed, 0) DESC, f.lead_id
         LIMIT p_limit;
END
$$;
COMMENT ON FUNCTION reporting.low_score_converted(date, date, integer, integer, uuid) IS
    'Task 4.2: the leads of reporting.low_score_converted_leads (what the scoring rules missed) with their deal, days to '
    'convert, the lead''s first_contact_hours and its agent''s response_hours; largest deal first, then lead_id; the '
    'first p_limit (NULL: all) after the lead p_after. '
    'Example: SELECT source_type, count(*), sum(deal_value_aed) FROM reporting.low_score_converted() GROUP BY 1;'
    ' SECURITY DEFINER: reads crm on behalf of the BI login, which may read reporting only. Errors: PT422 invalid_cursor.';

-- 4.2 source quality over time: every month and source, empty ones with 0 leads
CREATE VIEW reporting.source_quality_monthly AS
WITH figures AS (
    SELECT f.created_month AS month, f.source_type, count(*) AS leads, avg(f.capture_score) AS capture_score,
           count(*) FILTER (WHERE f.converted) AS converted, count(*) FILTER (WHERE f.lost) AS lost,
           avg(f.agent_response_seconds) AS response, avg(f.first_contact_seconds) AS first_contact,
           sum(f.deal_value_aed) AS revenue
      FROM reporting.lead_facts() AS f
     GROUP BY f.created_month, f.source_type
)
SELECT m.month, s.source_type, m.partial, s.quality_score AS configured_quality, coalesce(x.leads, 0) AS leads,
       round(x.capture_score, 1) AS avg_capture_score, crm.conversion_rate(x.converted, x.lost) AS conversion_rate,
       round(x.response / 3600.0, 1) AS avg_response_hours, round(x.first_contact / 3600.0, 1) AS avg_first_contact_hours,
       coalesce(x.revenue, 0) AS revenue_aed
  FROM reporting.snapshot_months AS m
 CROSS JOIN crm.lead_sources AS s
  LEFT JOIN figures AS x ON x.month = m.month AND x.source_type = s.source_type;
COMMENT ON VIEW reporting.source_quality_monthly IS
    'Task 4.2: per calendar month (timezone setting; partial marks the current one) and source, empty months included, '
    'the configured quality, the mean capture score, the conversion rate, the agents'' mean response time, the leads'' '
    'mean time to first contact and revenue: is a source''s quality_score still right? '
    'Example: SELECT * FROM reporting.source_quality_monthly WHERE source_type = ''dubizzle'' ORDER BY month;';

-- 4.2 optimal follow-up timing, and 4.3 response time against conversion
CREATE OR REPLACE FUNCTION reporting.response_time_conversion(p_from date DEFAULT NULL, p_to date DEFAULT NULL)
RETURNS TABLE (response_window text, window_order integer, leads bigint, closed bigint, converted bigint,
               conversion_rate numeric, correlation numeric)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = '' SET work_mem = '64MB'
AS $$
#variable_conflict use_column
BEGIN
    RETURN QUERY
        SELECT (ARRAY['under 1 hour', '1 to 4 hours', '4 to 24 hours', '1 to 3 days', 'over 3 days',
                      'not contacted by its agent'])[c.bucket],
               c.bucket, count(*), count(*) FILTER (WHERE c.converted OR c.lost), count(*) FILTER (WHERE c.converted),
               crm.conversion_rate(count(*) FILTER (WHERE c.converted), count(*) FILTER (WHERE c.lost)),
               (SELECT round(corr(x.agent_response_seconds, x.converted::integer)::numeric, 3)
                  FROM reporting.lead_facts(p_from, p_to) AS x
                 WHERE (x.converted OR x.lost) AND x.agent_response_seconds IS NOT NULL)
          FROM (SELECT CASE WHEN f.agent_response_seconds IS NULL THEN 6
                            WHEN f.agent_response_seconds < 3600 THEN 1 WHEN f.agent_response_seconds < 4 * 3600 THEN 2
                            WHEN f.agent_response_seconds < 24 * 3600 THEN 3
                            WHEN f.agent_response_seconds < 72 * 3600 THEN 4
                            ELSE 5 END AS bucket, f.converted, f.lost
                  FROM reporting.lead_facts(p_from, p_to) AS f) AS c
         GROUP BY c.bucket
         ORDER BY c.bucket;
END
$$;
COMMENT ON FUNCTION reporting.response_time_conversion(date, date) IS
    'Tasks 4.2 and 4.3: conversion rate of closed leads by the window of their agent''s response time (from the '
    'assignment to that agent''s first contact: under 1 h ... over 3 days, not contacted by its agent), the best '
    'follow-up timing, and corr(response seconds, converted) over all closed leads with a response (negative: faster '
    'answers convert more). Example: SELECT * FROM reporting.response_time_conversion(current_date - 180, NULL);'
    ' SECURITY DEFINER: reads crm on behalf of the BI login, which may read reporting only.';

-- 4.3 agents approaching maximum capacity
DROP VIEW IF EXISTS reporting.agents_near_capacity;
CREATE VIEW reporting.agents_near_capacity AS
SELECT w.agent_id, w.full_name, w.role, w.active_leads, w.max_active_leads, w.free_capacity, w.utilisation_pct,
       (SELECT count(*) FROM crm.follow_up_tasks AS t WHERE t.agent_id = w.agent_id AND t.status = 'open'
           AND t.due_at < now()) AS overdue_follow_ups
  FROM reporting.agent_workload AS w
 WHERE w.is_active AND (w.utilisation_pct >= 90 OR w.free_capacity <= 5);
COMMENT ON VIEW reporting.agents_near_capacity IS
    'Task 4.3: active agents and supervisors at 90 % of their capacity or with 5 or fewer free slots, with their '
    'overdue follow-ups: who needs relief (the balancing sweep moves leads above workload_balance_threshold). '
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
                   count(f.deal_value_aed) AS deals, sum(f.agent_response_seconds) AS response_sum,
                   count(f.agent_response_seconds) AS responses
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
         GROUP BY 1, 2
         ORDER BY 1, 2;
END
$$;
COMMENT ON FUNCTION reporting.specialist_vs_generalist(date, date) IS
    'Task 4.3: conversion rate, deal size and response time (assignment to first contact) of specialists (agents and '
    'supervisors with property-type specialisations) on leads in and outside their specialty, against generalists; '
    'every lead of the window with an agent is counted once. Example: SELECT * FROM reporting.specialist_vs_generalist();'
    ' SECURITY DEFINER: reads crm on behalf of the BI login, which may read reporting only.';
