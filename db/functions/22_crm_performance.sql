-- Agent performance: the monthly metrics and the performance score the ranking reads, recomputed by the sweep.

-- crm.offer_figures(from, to, agent): per agent (one agent, or all when NULL), the offers made to them in [from, to)
-- that were answered (accepted, or released declined or expired; an offer still open or taken away by a supervisor
-- is not an answer), how many of those were accepted, the accept rate in % (one decimal; NULL when none was
-- answered) and the p90 of the accepted offers' response times (offer_response_seconds: clock start to acceptance).
-- The one definition the dashboard's offer_accept_rate and the performance score read.
CREATE OR REPLACE FUNCTION crm.offer_figures(p_from timestamptz, p_to timestamptz, p_agent_id uuid DEFAULT NULL)
RETURNS TABLE (agent_id uuid, answered bigint, accepted bigint, accept_rate numeric, response_p90_seconds integer)
LANGUAGE plpgsql
STABLE
SET search_path = ''
AS $$
#variable_conflict use_column
BEGIN
    RETURN QUERY
    SELECT a.agent_id, count(*), count(a.accepted_at),
           round(100.0 * count(a.accepted_at) / count(*), 1),
           (percentile_cont(0.9) WITHIN GROUP (ORDER BY a.offer_response_seconds))::integer
      FROM crm.lead_assignments AS a
     WHERE a.respond_by IS NOT NULL AND a.assigned_at >= p_from AND a.assigned_at < p_to
       AND (p_agent_id IS NULL OR a.agent_id = p_agent_id)
       AND (a.accepted_at IS NOT NULL OR a.release_reason IN ('offer_expired', 'offer_declined'))
     GROUP BY a.agent_id;
END
$$;
COMMENT ON FUNCTION crm.offer_figures(timestamptz, timestamptz, uuid) IS
    'Per agent (or one): the offers made in [from, to) and answered, those accepted, the accept rate (%) and the p90 '
    'offer response seconds (clock start to acceptance) of the accepted ones.';

-- crm.linear_score(value, zero_at): 100 at 0, falling linearly to 0 at zero_at and after (0 from the start when
-- zero_at is 0); NULL for a NULL value.
CREATE OR REPLACE FUNCTION crm.linear_score(p_value numeric, p_zero_at numeric)
RETURNS numeric
LANGUAGE sql
IMMUTABLE
SET search_path = ''
AS $$
    SELECT CASE WHEN p_value IS NULL THEN NULL
                WHEN p_zero_at <= 0 THEN CASE WHEN p_value <= 0 THEN 100 ELSE 0 END
                ELSE greatest(0, least(100, 100 * (1 - p_value / p_zero_at))) END
$$;
COMMENT ON FUNCTION crm.linear_score(numeric, numeric) IS
    'A time turned into a 0-100 score: 100 at 0, linearly down to 0 at zero_at (the response parts of the score).';

-- crm.performance_score(conversion rate, first-contact hours, accept rate, offer p90 seconds): an agent's performance
-- score by the setting performance_score, four weighted parts that add up to 1 (as shipped):
--     conversion_weight (0.45)     x the conversion rate
--   + response_weight (0.25)       x a first-contact score: 100 at an immediate first contact (mean hours from
--                                    assignment), falling linearly to 0 at response_zero_after (48 hours)
--   + accept_weight (0.15)         x the offer accept rate
--   + offer_response_weight (0.15) x an offer-response score: 100 for accepting at once (p90 of the accepted offers'
--                                    response), falling linearly to 0 at first_response_sla (5 minutes)
-- a part without data counts as neutral (50).
CREATE OR REPLACE FUNCTION crm.performance_score(p_conversion_rate numeric, p_response_hours numeric,
                                                 p_accept_rate numeric, p_offer_p90_seconds numeric)
RETURNS numeric
LANGUAGE plpgsql
STABLE
SET search_path = ''
AS $$
DECLARE
    v_score   jsonb := crm.setting('performance_score');
    v_neutral numeric := (v_score ->> 'neutral')::numeric;
    v_zero    numeric := extract(epoch FROM (v_score ->> 'response_zero_after')::interval) / 3600;
    v_sla     numeric := extract(epoch FROM crm.setting_interval('first_response_sla'));
BEGIN
    RETURN round((v_score ->> 'conversion_weight')::numeric * coalesce(p_conversion_rate, v_neutral)
                 + (v_score ->> 'response_weight')::numeric * coalesce(crm.linear_score(p_response_hours, v_zero), v_neutral)
                 + (v_score ->> 'accept_weight')::numeric * coalesce(p_accept_rate, v_neutral)
                 + (v_score ->> 'offer_response_weight')::numeric
                   * coalesce(crm.linear_score(p_offer_p90_seconds, v_sla), v_neutral), 2);
END
$$;
COMMENT ON FUNCTION crm.performance_score(numeric, numeric, numeric, numeric) IS
    'An agent''s performance score from their conversion rate, mean first-contact hours, offer accept rate and p90 '
    'offer response seconds, weighted by the setting performance_score (0.45 / 0.25 / 0.15 / 0.15 as shipped; '
    'first contact scores 0 at 48 hours, offer response 0 at first_response_sla; neutral 50 for a missing figure).';

-- crm.refresh_monthly_metrics(now): recomputes crm.agent_performance_metrics for the current month and the three
-- before it (in the timezone setting; the dashboard's 90-day rank reads them). Returns the rows changed.
CREATE OR REPLACE FUNCTION crm.refresh_monthly_metrics(p_now timestamptz)
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
BEGIN
    -- set-based: one pass over each table for the four months, grouped by agent and month
    WITH assigned AS (
        SELECT a.agent_id, date_trunc('month', a.assigned_at AT TIME ZONE v_tz)::date AS period_month, count(*) AS n
          FROM crm.lead_assignments AS a
         WHERE a.assigned_at >= v_since AND a.assigned_at <= p_now
         GROUP BY 1, 2
    ),
    contacted AS (   -- the agent's response time is the assignment's (lead_assignments.response_seconds, 0020)
        SELECT a.agent_id, date_trunc('month', a.first_activity_at AT TIME ZONE v_tz)::date AS period_month, count(*) AS n,
               avg(a.response_seconds)::integer AS response
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
    RETURN v_rows;
END
$$;
COMMENT ON FUNCTION crm.refresh_monthly_metrics(timestamptz) IS
    'Recomputes crm.agent_performance_metrics (assigned, contacted, won, lost, revenue, mean response, conversion rate) '
    'for this month and the three before, in the timezone setting; a month''s responses are the assignments whose '
    'first contact fell in it, each timed by lead_assignments.response_seconds. Returns the rows changed.';

-- crm.refresh_performance_scores(now): each agent's performance_score (crm.performance_score) over the window of
-- the setting performance_score (90 days as shipped): closes in the window, first contacts in it, offers made in it
-- (crm.offer_figures). Returns the agents changed; the ranking's base points follow (agents_30_routing).
CREATE OR REPLACE FUNCTION crm.refresh_performance_scores(p_now timestamptz)
RETURNS integer
LANGUAGE plpgsql
SET search_path = ''
AS $$
DECLARE
    v_window interval := (crm.setting('performance_score') ->> 'window')::interval;
    v_rows   integer;
BEGIN
    WITH conversion AS (
        SELECT h.agent_id, crm.conversion_rate(count(*) FILTER (WHERE h.to_status = 'converted'),
                                               count(*) FILTER (WHERE h.to_status = 'lost')) AS rate
          FROM crm.lead_conversion_history AS h
         WHERE crm.is_closed(h.to_status) AND h.changed_at > p_now - v_window AND h.changed_at <= p_now
         GROUP BY h.agent_id
    ),
    response AS (
        SELECT a.agent_id, avg(a.response_seconds) / 3600 AS hours
          FROM crm.lead_assignments AS a
         WHERE a.first_activity_at > p_now - v_window AND a.first_activity_at <= p_now
         GROUP BY a.agent_id
    ),
    offers AS (SELECT * FROM crm.offer_figures(p_now - v_window, p_now))
    UPDATE crm.agents AS g
       SET performance_score = s.score
      FROM (SELECT a.agent_id,
                   crm.performance_score(c.rate, r.hours, o.accept_rate, o.response_p90_seconds) AS score
              FROM crm.agents AS a
              LEFT JOIN conversion AS c ON c.agent_id = a.agent_id
              LEFT JOIN response AS r ON r.agent_id = a.agent_id
              LEFT JOIN offers AS o ON o.agent_id = a.agent_id) AS s
     WHERE g.agent_id = s.agent_id AND g.performance_score IS DISTINCT FROM s.score;
    GET DIAGNOSTICS v_rows = ROW_COUNT;
    RETURN v_rows;
END
$$;
COMMENT ON FUNCTION crm.refresh_performance_scores(timestamptz) IS
    'Sets agents.performance_score from the conversion rate, mean first-contact time, offer accept rate and p90 offer '
    'response of the window in the setting performance_score. Returns the agents changed.';

-- crm.refresh_performance_metrics(now): the monthly metrics, then the performance scores. Returns the metric rows
-- changed.
CREATE OR REPLACE FUNCTION crm.refresh_performance_metrics(p_now timestamptz)
RETURNS integer
LANGUAGE plpgsql
SET search_path = ''
AS $$
DECLARE
    v_rows integer := crm.refresh_monthly_metrics(p_now);
BEGIN
    PERFORM crm.refresh_performance_scores(p_now);
    RETURN v_rows;
END
$$;
COMMENT ON FUNCTION crm.refresh_performance_metrics(timestamptz) IS
    'The sweep''s metrics step: crm.refresh_monthly_metrics, then crm.refresh_performance_scores. Returns the metric '
    'rows changed.';
