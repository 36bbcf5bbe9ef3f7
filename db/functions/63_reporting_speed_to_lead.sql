-- Speed to lead (issue 16): how fast leads get their first response and what that does to conversion, the
-- brokerage's own version of the lead-response studies. From the analytics snapshot, like the Task 4 reports.

-- reporting.speed_to_lead(from, to, by): for the leads captured in the window (days in the timezone setting), one
-- row per group of the dimension asked (p_by): response_band (the default: the studies' table; bands of first
-- response within 5 min, 30 min, 1 h, 24 h, later, none yet), agent (the lead's current agent), source, weekday or
-- hour of capture (local, from the snapshot), all (one row), or every (all six in one call, six times the work: a
-- psql convenience). First response = the lead's time from capture to its first contact by an agent
-- (first_contact_seconds). p50 and p90 (exact: percentile_cont) over the leads contacted; breached = first response
-- later than first_response_sla (5 min) after capture, or none yet once that long has passed; conversion rate =
-- converted / (converted + lost) (crm.conversion_rate).
-- One dimension per call: each group's percentiles sort its response times, most of a second per dimension at a
-- million leads on two cores (docs/benchmarks.md "Speed to lead at scale").
-- Errors: PT422 invalid_report_parameter (an unknown p_by).
DROP FUNCTION IF EXISTS reporting.speed_to_lead(date, date);
CREATE OR REPLACE FUNCTION reporting.speed_to_lead(p_from date DEFAULT NULL, p_to date DEFAULT NULL,
                                                   p_by text DEFAULT 'response_band')
RETURNS TABLE (dimension text, key text, leads bigint, contacted bigint, first_response_p50_seconds integer,
               first_response_p90_seconds integer, breached bigint, breach_rate numeric, closed bigint,
               converted bigint, conversion_rate numeric)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = '' SET work_mem = '256MB'
AS $$
DECLARE
    v_band text := 'CASE WHEN x.first_contact_seconds IS NULL THEN 6 WHEN x.first_contact_seconds <= 300 THEN 1 '
                   'WHEN x.first_contact_seconds <= 1800 THEN 2 WHEN x.first_contact_seconds <= 3600 THEN 3 '
                   'WHEN x.first_contact_seconds <= 86400 THEN 4 ELSE 5 END';
    v_dim  text;
BEGIN
    IF p_by IS NULL OR p_by NOT IN ('response_band', 'agent', 'source', 'weekday', 'hour', 'all', 'every') THEN
        RAISE EXCEPTION 'by is one of response_band, agent, source, weekday, hour, all, every; not %',
                        coalesce(pg_catalog.quote_literal(left(p_by, 40)), 'null')
            USING ERRCODE = 'PT422', CONSTRAINT = 'invalid_report_parameter',
                  HINT = 'One dimension per call; every answers all six at six times the cost.';
    END IF;
    FOREACH v_dim IN ARRAY CASE p_by WHEN 'every' THEN ARRAY['all', 'agent', 'source', 'weekday', 'hour', 'response_band']
                                    ELSE ARRAY[p_by] END LOOP
        -- one statement per dimension, grouped by a fixed expression of the snapshot's columns, a number or a uuid
        -- (the cheapest sort: a source is its place in the sorted list of sources, $4; sorting a million texts
        -- cost more than the percentiles): every group's percentiles sort its response times, the cost of the report
        RETURN QUERY EXECUTE pg_catalog.format($q$
            SELECT %L::text, %s, g.n, g.k, (g.p[1])::integer, (g.p[2])::integer, g.b, round(100.0 * g.b / g.n, 1),
                   g.c + g.l, g.c, crm.conversion_rate(g.c, g.l)
              FROM (SELECT %s AS grp, count(*) AS n, count(x.first_contact_seconds) AS k,
                           percentile_cont(ARRAY[0.5, 0.9]) WITHIN GROUP (ORDER BY x.first_contact_seconds) AS p,
                           count(*) FILTER (WHERE x.first_contact_seconds > $3
                                              OR (x.first_contact_seconds IS NULL
                                                  AND x.created_at < now() - make_interval(secs => $3::float8))) AS b,
                           count(*) FILTER (WHERE x.converted) AS c, count(*) FILTER (WHERE x.lost) AS l
                      FROM reporting.lead_facts($1, $2) AS x
                     GROUP BY 1
                    HAVING count(*) > 0) AS g
             ORDER BY g.grp$q$,
            v_dim,
            CASE v_dim WHEN 'all' THEN 'NULL::text'
                       WHEN 'response_band' THEN '(ARRAY[''within 5 min'', ''within 30 min'', ''within 1 h'', '
                                                 '''within 24 h'', ''later'', ''none yet''])[g.grp]'
                       WHEN 'source' THEN '($4)[g.grp]'
                       ELSE 'g.grp::text' END,
            CASE v_dim WHEN 'agent' THEN 'x.agent_id' WHEN 'source' THEN 'pg_catalog.array_position($4, x.source_type)'
                       WHEN 'weekday' THEN 'x.created_isodow' WHEN 'hour' THEN 'x.created_hour'
                       WHEN 'response_band' THEN v_band ELSE 'NULL::integer' END)
        USING p_from, p_to, extract(epoch FROM crm.setting_interval('first_response_sla')),
              ARRAY(SELECT s.source_type FROM crm.lead_sources AS s ORDER BY s.source_type COLLATE "C");
    END LOOP;
END
$$;
COMMENT ON FUNCTION reporting.speed_to_lead(date, date, text) IS
    'Speed to lead for one dimension (p_by: response_band, the default; agent, source, weekday, hour, all; every for '
    'all six at once): per group the leads, how many were contacted, first-response p50/p90 seconds (capture to '
    'first contact), breaches of first_response_sla, and the conversion rate. Example: SELECT * FROM '
    'reporting.speed_to_lead(current_date - 90, NULL, ''agent''); SECURITY DEFINER: reads the settings for the BI '
    'login. Errors: PT422 invalid_report_parameter.';
