-- The Task 4 reports over REST: GET /api/v1/analytics lists them (api.analytics_reports), GET
-- /api/v1/analytics/{name} answers one (api.analytics_report). The reports themselves are the reporting schema's
-- views and functions (61_reporting_analytics.sql), which psql users and BI tools read directly; the API's login
-- reaches them only through these two functions, after its caller was authorized.

-- crm.analytics_catalog(): every report the API serves: its name, the question it answers, whether it reads live
-- data (else the analytics snapshot), and its query ($1 = date_from, $2 = date_to, both nullable).
CREATE OR REPLACE FUNCTION crm.analytics_catalog()
RETURNS TABLE (name text, question text, live boolean, query text)
LANGUAGE sql
IMMUTABLE
SET search_path = ''
AS $$
    SELECT * FROM (VALUES
        ('conversion-by-source', '4.1 Conversion rates by lead source', false,
         'SELECT * FROM reporting.conversion_by_source($1, $2)'),
        ('conversion-by-agent', '4.1 Conversion rates by agent', false,
         'SELECT * FROM reporting.conversion_by_agent($1, $2)'),
        ('time-to-conversion', '4.1 Days to conversion by property type', false,
         'SELECT * FROM reporting.time_to_conversion_by_property_type($1, $2)'),
        ('monthly-volume', '4.1 Monthly lead volume by source', false,
         'SELECT * FROM reporting.monthly_lead_volume WHERE ($1::date IS NULL OR month >= date_trunc(''month'', $1::date)) '
         'AND ($2::date IS NULL OR month <= $2::date) ORDER BY month, source_type'),
        ('agent-rankings', '4.1 Agent performance rankings', false,
         'SELECT * FROM reporting.agent_rankings($1, $2)'),
        ('revenue-by-source', '4.1 Revenue attribution by source', false,
         'SELECT * FROM reporting.revenue_by_source($1, $2)'),
        ('high-score-not-converted', '4.2 High-scoring leads that did not convert, and why', false,
         'SELECT * FROM reporting.high_score_not_converted($1, $2, p_limit => 500)'),
        ('low-score-converted', '4.2 Low-scoring leads that converted', false,
         'SELECT * FROM reporting.low_score_converted($1, $2, p_limit => 500)'),
        ('source-quality', '4.2 Source quality by month', false,
         'SELECT * FROM reporting.source_quality_monthly WHERE ($1::date IS NULL OR month >= date_trunc(''month'', $1::date)) '
         'AND ($2::date IS NULL OR month <= $2::date) ORDER BY source_type, month'),
        ('response-time-conversion', '4.2/4.3 Conversion by first-response window, and the correlation', false,
         'SELECT * FROM reporting.response_time_conversion($1, $2)'),
        ('workload', '4.3 Current workload distribution (now: dates do not apply)', true,
         'SELECT * FROM reporting.agent_workload ORDER BY utilisation_pct DESC NULLS LAST'),
        ('near-capacity', '4.3 Agents approaching capacity (now: dates do not apply)', true,
         'SELECT * FROM reporting.agents_near_capacity ORDER BY utilisation_pct DESC'),
        ('specialist-vs-generalist', '4.3 Specialised versus general agents', false,
         'SELECT * FROM reporting.specialist_vs_generalist($1, $2)')
    ) AS c (name, question, live, query)
$$;
COMMENT ON FUNCTION crm.analytics_catalog() IS
    'The reports GET /api/v1/analytics serves: name, question, live (current state) or from the analytics snapshot, '
    'and the query over the reporting schema ($1 date_from, $2 date_to).';

-- api.analytics_reports(): the catalog for GET /api/v1/analytics. Errors: crm.authorize's.
DROP FUNCTION IF EXISTS api.analytics_reports();
CREATE FUNCTION api.analytics_reports()
RETURNS json
LANGUAGE plpgsql
STABLE
SECURITY DEFINER
SET search_path = ''
AS $$
BEGIN
    PERFORM crm.authorize('analytics');
    RETURN (SELECT pg_catalog.json_agg(pg_catalog.json_build_object(
                       'name', c.name, 'question', c.question, 'path', '/api/v1/analytics/' || c.name, 'live', c.live))
              FROM crm.analytics_catalog() AS c);
END
$$;
COMMENT ON FUNCTION api.analytics_reports() IS
    'GET /api/v1/analytics: every report''s name, question and path. Supervisors and admins. Errors: crm.authorize''s. '
    'SECURITY DEFINER: reads the catalog for a caller the matrix allowed.';

-- api.analytics_report(name, from, to): one report's rows, with when its data was taken. The caller is authorized
-- before the name is looked at, so report names cannot be probed without a key. Errors: crm.authorize's,
-- PT404 report_not_found.
DROP FUNCTION IF EXISTS api.analytics_report(text, date, date);
CREATE FUNCTION api.analytics_report(p_name text, p_from date DEFAULT NULL, p_to date DEFAULT NULL)
RETURNS json
LANGUAGE plpgsql
STABLE
SECURITY DEFINER
SET search_path = ''
AS $$
DECLARE
    v_report record;
    v_rows   json;
BEGIN
    PERFORM crm.authorize('analytics');
    SELECT * INTO v_report FROM crm.analytics_catalog() AS c WHERE c.name = p_name;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no report named %; GET /api/v1/analytics lists them', pg_catalog.quote_literal(left(p_name, 100))
            USING ERRCODE = 'PT404', CONSTRAINT = 'report_not_found',
                  DETAIL = pg_catalog.json_build_object('report', left(p_name, 100))::text;
    END IF;
    -- the query is the catalog's own text (never the caller's): the dates are bound parameters
    -- json: each row's columns in the report's own order
    EXECUTE 'SELECT coalesce(pg_catalog.json_agg(pg_catalog.to_json(r)), ''[]''::json) FROM (' || v_report.query
            || ') AS r' INTO v_rows USING p_from, p_to;
    RETURN pg_catalog.json_build_object(
        'report', v_report.name, 'question', v_report.question,
        'filters', pg_catalog.json_build_object('date_from', p_from, 'date_to', p_to),
        'as_of', CASE WHEN v_report.live THEN pg_catalog.now()
                      ELSE (SELECT f.refreshed_at FROM reporting.analytics_freshness AS f) END,
        'live', v_report.live,
        'replica_lag_s', (SELECT round(extract(epoch FROM f.replica_lag)::numeric, 3)
                            FROM reporting.analytics_freshness AS f),
        'rows', v_rows);
END
$$;
COMMENT ON FUNCTION api.analytics_report(text, date, date) IS
    'GET /api/v1/analytics/{name}: the rows of one report of crm.analytics_catalog for leads captured from p_from to '
    'p_to (Asia/Dubai days, inclusive, both optional), with as_of (the snapshot''s time, or now for live reports) '
    'and replica_lag_s (how far the hot standby it was read on is behind the primary; 0 on the primary). '
    'Supervisors and admins. Errors: crm.authorize''s, PT404 report_not_found. SECURITY DEFINER: reads the reporting '
    'schema, which the API''s login may not read itself.';
