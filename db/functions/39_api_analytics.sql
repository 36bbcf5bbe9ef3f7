-- The Task 4 reports over REST: GET /api/v1/analytics lists them (api.analytics_reports), GET
-- /api/v1/analytics/{name} answers one (api.analytics_report). The reports themselves are the reporting schema's
-- views and functions (61_reporting_analytics.sql), which psql users and BI tools read directly; the API's login
-- reaches them only through these two functions, after its caller was authorized.

-- crm.analytics_catalog(): every report the API serves: its name, the question it answers, whether it reads live
-- data (else the analytics snapshot), the dates its window may apply to (dated_by: capture first, the default; close
-- where the question is about closing; none for the live ones), whether it is a list served in pages, its query and,
-- for a list, the query counting all its rows. Parameters: $1 date_from, $2 date_to (nullable), $3 dated_by, and for
-- a list $4 the page size and $5 the last lead of the page before (NULL: the first page); a page asks for one row
-- more than its size, to know whether another follows.
DROP FUNCTION IF EXISTS crm.analytics_catalog();
CREATE FUNCTION crm.analytics_catalog()
RETURNS TABLE (name text, question text, live boolean, dated_by text[], paged boolean, query text, total_query text)
LANGUAGE sql
IMMUTABLE
SET search_path = ''
AS $$
    SELECT * FROM (VALUES
        ('conversion-by-source', '4.1 Conversion rates by lead source', false, '{capture,close}'::text[], false,
         'SELECT * FROM reporting.conversion_by_source($1, $2, $3)', NULL),
        ('conversion-by-agent', '4.1 Conversion rates by agent', false, '{capture,close}', false,
         'SELECT * FROM reporting.conversion_by_agent($1, $2, $3)', NULL),
        ('time-to-conversion', '4.1 Days to conversion by property type', false, '{capture,close}', false,
         'SELECT * FROM reporting.time_to_conversion_by_property_type($1, $2, $3)', NULL),
        ('monthly-volume', '4.1 Monthly lead volume by source', false, '{capture}', false,
         'SELECT * FROM reporting.monthly_lead_volume WHERE ($1::date IS NULL OR month >= date_trunc(''month'', $1::date)) '
         'AND ($2::date IS NULL OR month <= $2::date) ORDER BY month, source_type', NULL),
        ('agent-rankings', '4.1 Agent performance rankings', false, '{capture,close}', false,
         'SELECT * FROM reporting.agent_rankings($1, $2, $3)', NULL),
        ('revenue-by-source', '4.1 Revenue attribution by source', false, '{capture,close}', false,
         'SELECT * FROM reporting.revenue_by_source($1, $2, $3)', NULL),
        ('high-score-not-converted', '4.2 High-scoring leads that did not convert, and why', false, '{capture}', true,
         'SELECT * FROM reporting.high_score_not_converted($1, $2, p_limit => $4 + 1, p_after => $5)',
         'SELECT count(*) FROM reporting.high_score_not_converted_leads($1, $2)'),
        ('low-score-converted', '4.2 Low-scoring leads that converted', false, '{capture}', true,
         'SELECT * FROM reporting.low_score_converted($1, $2, p_limit => $4 + 1, p_after => $5)',
         'SELECT count(*) FROM reporting.low_score_converted_leads($1, $2)'),
        ('source-quality', '4.2 Source quality by month', false, '{capture}', false,
         'SELECT * FROM reporting.source_quality_monthly WHERE ($1::date IS NULL OR month >= date_trunc(''month'', $1::date)) '
         'AND ($2::date IS NULL OR month <= $2::date) ORDER BY source_type, month', NULL),
        ('response-time-conversion', '4.2/4.3 Conversion by the agent''s response time, and the correlation', false,
         '{capture}', false, 'SELECT * FROM reporting.response_time_conversion($1, $2)', NULL),
        ('workload', '4.3 Current workload distribution (now: dates do not apply)', true, '{}', false,
         'SELECT * FROM reporting.agent_workload ORDER BY utilisation_pct DESC NULLS LAST, agent_id', NULL),
        ('near-capacity', '4.3 Agents approaching capacity (now: dates do not apply)', true, '{}', false,
         'SELECT * FROM reporting.agents_near_capacity ORDER BY utilisation_pct DESC, agent_id', NULL),
        ('specialist-vs-generalist', '4.3 Specialised versus general agents', false, '{capture}', false,
         'SELECT * FROM reporting.specialist_vs_generalist($1, $2)', NULL),
        ('speed-to-lead', 'Speed to lead: first response, breaches and conversion by response band', false,
         '{capture}', false, 'SELECT * FROM reporting.speed_to_lead($1, $2, ''response_band'')', NULL),
        ('speed-to-lead-overall', 'Speed to lead: first response, breaches and conversion of all leads', false,
         '{capture}', false, 'SELECT * FROM reporting.speed_to_lead($1, $2, ''all'')', NULL),
        ('speed-to-lead-by-agent', 'Speed to lead by agent', false, '{capture}', false,
         'SELECT * FROM reporting.speed_to_lead($1, $2, ''agent'')', NULL),
        ('speed-to-lead-by-source', 'Speed to lead by source', false, '{capture}', false,
         'SELECT * FROM reporting.speed_to_lead($1, $2, ''source'')', NULL),
        ('speed-to-lead-by-weekday', 'Speed to lead by weekday of capture', false, '{capture}', false,
         'SELECT * FROM reporting.speed_to_lead($1, $2, ''weekday'')', NULL),
        ('speed-to-lead-by-hour', 'Speed to lead by hour of capture', false, '{capture}', false,
         'SELECT * FROM reporting.speed_to_lead($1, $2, ''hour'')', NULL)
    ) AS c (name, question, live, dated_by, paged, query, total_query)
$$;
COMMENT ON FUNCTION crm.analytics_catalog() IS
    'The reports GET /api/v1/analytics serves: name, question, live (current state) or from the analytics snapshot, '
    'the dates the window may apply to (capture, close), whether it is a paged list, its query over the reporting '
    'schema ($1 date_from, $2 date_to, $3 dated_by, $4 page size, $5 last lead of the page before) and a list''s count.';

-- crm.report_cursor_key(report, from, to, dated_by): what a cursor is bound to: 8 bytes of the md5 of the report and
-- its filters, so that a cursor only continues the walk it came from.
CREATE OR REPLACE FUNCTION crm.report_cursor_key(p_report text, p_from date, p_to date, p_dated_by text)
RETURNS bytea
LANGUAGE sql
IMMUTABLE
SET search_path = ''
AS $$
    SELECT pg_catalog.substr(pg_catalog.decode(pg_catalog.md5(pg_catalog.concat_ws('|', p_report, p_from, p_to,
                                                                                   p_dated_by)), 'hex'), 1, 8)
$$;
COMMENT ON FUNCTION crm.report_cursor_key(text, date, date, text) IS
    'The binding of a report cursor: 8 bytes of md5(report|date_from|date_to|dated_by).';

-- crm.report_cursor(report, from, to, dated_by, after): the opaque cursor of the next page of a list: base64url of the
-- last lead of the page (16 bytes) and crm.report_cursor_key (8 bytes): 32 characters.
CREATE OR REPLACE FUNCTION crm.report_cursor(p_report text, p_from date, p_to date, p_dated_by text, p_after uuid)
RETURNS text
LANGUAGE sql
IMMUTABLE
SET search_path = ''
AS $$
    SELECT pg_catalog.translate(pg_catalog.encode(
               pg_catalog.decode(pg_catalog.replace(p_after::text, '-', ''), 'hex')
               || crm.report_cursor_key(p_report, p_from, p_to, p_dated_by), 'base64'), '+/', '-_')
$$;
COMMENT ON FUNCTION crm.report_cursor(text, date, date, text, uuid) IS
    'The next-page cursor of a paged report: base64url of the page''s last lead and the report''s filters'' key.';

-- crm.report_cursor_after(cursor, report, from, to, dated_by): the last lead a cursor of crm.report_cursor names,
-- when the cursor is one and was made for this report and these filters. Errors: PT422 invalid_cursor.
CREATE OR REPLACE FUNCTION crm.report_cursor_after(p_cursor text, p_report text, p_from date, p_to date,
                                                   p_dated_by text)
RETURNS uuid
LANGUAGE plpgsql
IMMUTABLE
SET search_path = ''
AS $$
DECLARE
    v_bytes bytea;
BEGIN
    BEGIN
        v_bytes := pg_catalog.decode(pg_catalog.translate(p_cursor, '-_', '+/'), 'base64');
    EXCEPTION WHEN data_exception THEN
        v_bytes := NULL;
    END;
    IF v_bytes IS NULL OR pg_catalog.length(v_bytes) <> 24
       OR pg_catalog.substr(v_bytes, 17) <> crm.report_cursor_key(p_report, p_from, p_to, p_dated_by) THEN
        RAISE EXCEPTION 'this cursor was not made by a page of report % with these filters', p_report
            USING ERRCODE = 'PT422', CONSTRAINT = 'invalid_cursor',
                  HINT = 'Pass the next value of the page before, with the same report and filters; or start without one.';
    END IF;
    RETURN pg_catalog.encode(pg_catalog.substr(v_bytes, 1, 16), 'hex')::uuid;
END
$$;
COMMENT ON FUNCTION crm.report_cursor_after(text, text, date, date, text) IS
    'The last lead named by a cursor of crm.report_cursor, if it was made for this report and these filters. Errors: '
    'PT422 invalid_cursor.';

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
                       'name', c.name, 'question', c.question, 'path', '/api/v1/analytics/' || c.name, 'live', c.live,
                       'dated_by', pg_catalog.to_json(c.dated_by), 'paged', c.paged))
              FROM crm.analytics_catalog() AS c);
END
$$;
COMMENT ON FUNCTION api.analytics_reports() IS
    'GET /api/v1/analytics: every report''s name, question, path, whether it is live, the dates its window may apply '
    'to and whether it is a paged list. Supervisors and admins. Errors: crm.authorize''s. '
    'SECURITY DEFINER: reads the catalog for a caller the matrix allowed.';

-- api.analytics_report(name, from, to, dated_by, limit, cursor): one report's rows, with when its data was taken, in
-- the envelope every list of the API answers with: rows, next (the cursor of the next page, or null) and total (all
-- rows of the answer, every page). The catalog's lists come in pages of limit rows (default 100, at most 500); the
-- other reports in one page (limit and cursor are refused: they are not lists). The caller is authorized before the
-- name is looked at, so report names cannot be probed without a key. Errors: crm.authorize's, PT404
-- report_not_found, PT422 invalid_report_parameter, PT422 invalid_cursor.
DROP FUNCTION IF EXISTS api.analytics_report(text, date, date);
DROP FUNCTION IF EXISTS api.analytics_report(text, date, date, text, integer, text);
CREATE FUNCTION api.analytics_report(p_name text, p_from date DEFAULT NULL, p_to date DEFAULT NULL,
                                     p_dated_by text DEFAULT NULL, p_limit integer DEFAULT NULL,
                                     p_cursor text DEFAULT NULL)
RETURNS json
LANGUAGE plpgsql
STABLE
SECURITY DEFINER
SET search_path = ''
AS $$
DECLARE
    v_report record;
    v_dated  text;
    v_limit  integer;
    v_after  uuid;
    v_rows   json;
    v_more   boolean := false;
    v_last   uuid;
    v_total  bigint;
BEGIN
    PERFORM crm.authorize('analytics');
    SELECT * INTO v_report FROM crm.analytics_catalog() AS c WHERE c.name = p_name;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no report named %; GET /api/v1/analytics lists them', pg_catalog.quote_literal(left(p_name, 100))
            USING ERRCODE = 'PT404', CONSTRAINT = 'report_not_found',
                  DETAIL = pg_catalog.json_build_object('report', left(p_name, 100))::text;
    END IF;
    IF p_dated_by IS NOT NULL AND NOT p_dated_by = ANY (v_report.dated_by) THEN
        RAISE EXCEPTION 'report % is dated by %, not %', p_name,
                        coalesce(nullif(pg_catalog.array_to_string(v_report.dated_by, ' or '), ''), 'nothing (it is live)'),
                        pg_catalog.quote_literal(left(p_dated_by, 40))
            USING ERRCODE = 'PT422', CONSTRAINT = 'invalid_report_parameter';
    END IF;
    v_dated := coalesce(p_dated_by, v_report.dated_by[1]);
    IF NOT v_report.paged AND (p_limit IS NOT NULL OR p_cursor IS NOT NULL) THEN
        RAISE EXCEPTION 'report % is not a list: it answers all its rows at once, without limit or cursor', p_name
            USING ERRCODE = 'PT422', CONSTRAINT = 'invalid_report_parameter';
    END IF;

    IF v_report.paged THEN
        v_limit := coalesce(p_limit, 100);
        IF v_limit NOT BETWEEN 1 AND 500 THEN
            RAISE EXCEPTION 'limit is 1 to 500 rows, not %', v_limit
                USING ERRCODE = 'PT422', CONSTRAINT = 'invalid_report_parameter';
        END IF;
        IF p_cursor IS NOT NULL THEN
            v_after := crm.report_cursor_after(p_cursor, p_name, p_from, p_to, v_dated);
        END IF;
        -- the query is the catalog's own text (never the caller's): the values are bound parameters
        -- json: each row's columns in the report's own order, the rows in the report's order
        EXECUTE 'SELECT coalesce(pg_catalog.json_agg(pg_catalog.to_json(p.r) ORDER BY p.n) FILTER (WHERE p.n <= $4), '
                || '''[]''::json), pg_catalog.count(*) > $4, '
                || '(pg_catalog.array_agg((p.r).lead_id ORDER BY p.n DESC) FILTER (WHERE p.n <= $4))[1] '
                || 'FROM (SELECT r, pg_catalog.row_number() OVER () AS n FROM (' || v_report.query || ') AS r) AS p'
            INTO v_rows, v_more, v_last USING p_from, p_to, v_dated, v_limit, v_after;
        EXECUTE v_report.total_query INTO v_total USING p_from, p_to, v_dated;
    ELSE
        EXECUTE 'SELECT coalesce(pg_catalog.json_agg(pg_catalog.to_json(r)), ''[]''::json), pg_catalog.count(*) FROM ('
                || v_report.query || ') AS r'
            INTO v_rows, v_total USING p_from, p_to, v_dated;
    END IF;
    RETURN pg_catalog.json_build_object(   -- json: the keys in the order of the API's Report
        'report', v_report.name, 'question', v_report.question,
        'filters', pg_catalog.json_build_object('date_from', p_from, 'date_to', p_to, 'dated_by', v_dated,
                                                'limit', v_limit, 'cursor', p_cursor),
        'as_of', CASE WHEN v_report.live THEN pg_catalog.now()
                      ELSE (SELECT f.refreshed_at FROM reporting.analytics_freshness AS f) END,
        'live', v_report.live,
        'replica_lag_s', (SELECT round(extract(epoch FROM f.replica_lag)::numeric, 3)
                            FROM reporting.analytics_freshness AS f),
        'rows', v_rows,
        'next', CASE WHEN v_more THEN crm.report_cursor(p_name, p_from, p_to, v_dated, v_last) END,
        'total', v_total);
END
$$;
COMMENT ON FUNCTION api.analytics_report(text, date, date, text, integer, text) IS
    'GET /api/v1/analytics/{name}: the rows of one report of crm.analytics_catalog for the window p_from to p_to (days '
    'of the timezone setting, inclusive, both optional) on the capture or close date (p_dated_by, where the report '
    'offers both), with as_of (the snapshot''s time, or now for live reports), replica_lag_s (how far the hot standby it was '
    'read on is behind the primary; 0 on the primary), next (a list''s next-page cursor, or '
    'null) and total. Lists come in pages of p_limit (100, at most 500) after p_cursor. Supervisors and admins. '
    'Errors: crm.authorize''s, PT404 report_not_found, PT422 invalid_report_parameter, PT422 invalid_cursor. SECURITY '
    'DEFINER: reads the reporting schema, which the API''s login may not read itself.';
