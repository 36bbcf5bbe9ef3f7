-- Speed to lead (issue 16): how fast leads get their first response and what that does to conversion, the
-- brokerage's own version of the lead-response studies. From the analytics snapshot, like the Task 4 reports.

-- reporting.speed_to_lead(from, to): for the leads captured in the window (days in the timezone setting), one row
-- per group of each dimension: all, agent (the lead's current agent), source, weekday and hour of capture (local),
-- and response band (first response within 5 min, 30 min, 1 h, 24 h, later, none yet). First response = the lead's
-- time from capture to its first contact by an agent (first_contact_seconds). p50 and p90 over the leads contacted;
-- breached = first response later than first_response_sla (5 min) after capture, or none yet once that long has
-- passed; conversion rate = converted / (converted + lost) (crm.conversion_rate).
CREATE OR REPLACE FUNCTION reporting.speed_to_lead(p_from date DEFAULT NULL, p_to date DEFAULT NULL)
RETURNS TABLE (dimension text, key text, leads bigint, contacted bigint, first_response_p50_seconds integer,
               first_response_p90_seconds integer, breached bigint, breach_rate numeric, closed bigint,
               converted bigint, conversion_rate numeric)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = '' SET work_mem = '64MB'
AS $$
#variable_conflict use_column
DECLARE
    v_tz  text := (SELECT reporting.business_timezone());
    v_sla numeric := extract(epoch FROM crm.setting_interval('first_response_sla'));
BEGIN
    RETURN QUERY
    WITH f AS (
        SELECT x.agent_id::text AS agent, x.source_type AS source,
               extract(isodow FROM x.created_at AT TIME ZONE v_tz)::integer AS weekday,
               extract(hour FROM x.created_at AT TIME ZONE v_tz)::integer AS hour,
               CASE WHEN x.first_contact_seconds IS NULL THEN '6 none yet'
                    WHEN x.first_contact_seconds <= 300 THEN '1 within 5 min'
                    WHEN x.first_contact_seconds <= 1800 THEN '2 within 30 min'
                    WHEN x.first_contact_seconds <= 3600 THEN '3 within 1 h'
                    WHEN x.first_contact_seconds <= 86400 THEN '4 within 24 h'
                    ELSE '5 later' END AS band,
               x.first_contact_seconds AS seconds,
               (x.first_contact_seconds > v_sla
                OR (x.first_contact_seconds IS NULL AND x.created_at < now() - make_interval(secs => v_sla::float8)))
                   AS breach,
               x.converted, x.lost
          FROM reporting.lead_facts(p_from, p_to) AS x)
    SELECT CASE WHEN GROUPING(f.agent) = 0 THEN 'agent' WHEN GROUPING(f.source) = 0 THEN 'source'
                WHEN GROUPING(f.weekday) = 0 THEN 'weekday' WHEN GROUPING(f.hour) = 0 THEN 'hour'
                WHEN GROUPING(f.band) = 0 THEN 'response_band' ELSE 'all' END,
           coalesce(f.agent, f.source, f.weekday::text, f.hour::text, substr(f.band, 3)),
           count(*), count(f.seconds),
           (percentile_cont(0.5) WITHIN GROUP (ORDER BY f.seconds))::integer,
           (percentile_cont(0.9) WITHIN GROUP (ORDER BY f.seconds))::integer,
           count(*) FILTER (WHERE f.breach),
           round(100.0 * count(*) FILTER (WHERE f.breach) / count(*), 1),
           count(*) FILTER (WHERE f.converted OR f.lost), count(*) FILTER (WHERE f.converted),
           crm.conversion_rate(count(*) FILTER (WHERE f.converted), count(*) FILTER (WHERE f.lost))
      FROM f
     GROUP BY GROUPING SETS ((), (f.agent), (f.source), (f.weekday), (f.hour), (f.band))
     ORDER BY 1, (CASE WHEN GROUPING(f.band) = 0 THEN f.band END), f.weekday, f.hour, 2;
END
$$;
COMMENT ON FUNCTION reporting.speed_to_lead(date, date) IS
    'Speed to lead: per dimension (all, agent, source, weekday, hour of capture, response band), the leads, how many '
    'were contacted, first-response p50/p90 seconds (capture to first contact), breaches of first_response_sla, and '
    'the conversion rate. Example: SELECT * FROM reporting.speed_to_lead(current_date - 90, NULL) '
    'WHERE dimension = ''response_band''; SECURITY DEFINER: reads the settings for the BI login.';
