-- The scoring engine: a lead's capture score from the active rows of crm.lead_scoring_rules and the
-- source quality of crm.lead_sources. Rules are data: an UPDATE of a rule row changes the next score.
-- docs/business-rules.md section 4 states the formula this implements.

-- crm.score_lead(...): {"score": 0..100, "raw": unclamped total, "breakdown": [{"rule", "factor", "points"}]}.
-- Inputs are already mapped to our keys (country code, property type). p_response_seconds is NULL until
-- the first agent contact; then the response-time rules apply. Raises nothing: an unknown source scores 0.
CREATE OR REPLACE FUNCTION crm.score_lead(
    p_source_type      text,
    p_budget_min       numeric,
    p_budget_max       numeric,
    p_nationality      text,
    p_property_type    crm.property_type,
    p_referred         boolean,
    p_response_seconds integer DEFAULT NULL
)
RETURNS jsonb
LANGUAGE plpgsql
STABLE
SET search_path = ''
AS $$
BEGIN
    -- input is MATERIALIZED: inlined, each of its subqueries was copied to every place that reads its column (the
    -- source's quality four times); the country is found by its key (p_nationality as bpchar, not every code as text)
    RETURN (
    WITH input AS MATERIALIZED (
        SELECT coalesce(p_budget_max, p_budget_min) AS budget,
               p_response_seconds / 3600.0 AS response_hours,
               (SELECT s.quality_score FROM crm.lead_sources AS s WHERE s.source_type = p_source_type) AS quality,
               (SELECT c.is_gcc FROM crm.countries AS c WHERE c.country_code = p_nationality::bpchar) AS is_gcc,
               EXISTS (SELECT 1 FROM crm.lead_scoring_rules AS r
                        WHERE r.is_active AND r.factor = 'nationality' AND r.match_value = p_nationality) AS own_nationality_rule
    ),
    matched AS (
        SELECT r.rule_id, r.rule_key, r.factor,
               CASE WHEN r.factor = 'source_quality' THEN coalesce(r.weight * i.quality, r.points)
                    ELSE coalesce(r.points, 0) END AS points
          FROM crm.lead_scoring_rules AS r, input AS i
         WHERE r.is_active
           AND CASE r.factor
                 WHEN 'source_quality' THEN i.quality IS NOT NULL
                 WHEN 'budget' THEN i.budget IS NOT NULL
                      AND i.budget >= coalesce(r.min_value, 0) AND (r.max_value IS NULL OR i.budget < r.max_value)
                 WHEN 'nationality' THEN p_nationality IS NOT NULL
                      AND (r.match_value = p_nationality
                           OR (r.match_value = 'GCC' AND i.is_gcc AND NOT i.own_nationality_rule))
                 WHEN 'property_type' THEN r.match_value = p_property_type::text
                 WHEN 'response_time' THEN i.response_hours IS NOT NULL
                      AND i.response_hours >= coalesce(r.min_value, 0) AND (r.max_value IS NULL OR i.response_hours < r.max_value)
                 WHEN 'referral' THEN coalesce(p_referred, false)
                 ELSE false   -- activity rules adjust the stored score as activities happen, not the capture score
               END
    )
    SELECT pg_catalog.jsonb_build_object(
               'score', least(100, greatest(0, round(coalesce(sum(m.points), 0))))::integer,
               'raw', coalesce(sum(m.points), 0),
               'breakdown', coalesce(pg_catalog.jsonb_agg(
                   pg_catalog.jsonb_build_object('rule', m.rule_key, 'factor', m.factor, 'points', m.points::float8)
                   ORDER BY m.rule_id), '[]'::jsonb))
      FROM matched AS m);
END
$$;
COMMENT ON FUNCTION crm.score_lead(text, numeric, numeric, text, crm.property_type, boolean, integer) IS
    'Capture score of a lead from the active scoring rules: {"score", "raw", "breakdown"}. score = clamp(0, 100, round(raw)); '
    'raw = weight x source quality + points of every matching budget, nationality (own country rule, else GCC), '
    'property type, response time and referral rule. See docs/business-rules.md section 4.';

-- crm.capture_score(source, budget_min, budget_max, nationality, property_type, referrer): the capture score of a
-- lead with these (mapped) inputs. A lead is referred when it came through the referral source or names a
-- referring agent of ours. The one place that says which stored inputs a capture score reads.
CREATE OR REPLACE FUNCTION crm.capture_score(p_source text, p_budget_min numeric, p_budget_max numeric,
                                             p_nationality text, p_property_type crm.property_type, p_referrer_id uuid)
RETURNS jsonb
LANGUAGE plpgsql
STABLE
SET search_path = ''
AS $$
BEGIN
    RETURN crm.score_lead(p_source, p_budget_min, p_budget_max, p_nationality, p_property_type,
                          p_source = 'referral' OR p_referrer_id IS NOT NULL);
END
$$;
COMMENT ON FUNCTION crm.capture_score(text, numeric, numeric, text, crm.property_type, uuid) IS
    'Capture step: crm.score_lead for a lead''s capture inputs; referred = the referral source or a known referring agent.';

-- crm.capture_score(lead): crm.score_lead over the columns of a lead row that are the capture score's inputs: source,
-- budgets, nationality, property type, and referral (the source is referral, or a referring agent is named). One
-- spelling of that mapping for whoever scores a lead row: the demo data (db/seed/) scores its leads with it before
-- inserting them, and reporting.capture_score_mismatches checks every captured lead against it. Raises nothing.
CREATE OR REPLACE FUNCTION crm.capture_score(p_lead crm.leads)
RETURNS jsonb
LANGUAGE plpgsql
STABLE
SET search_path = ''
AS $$
BEGIN
    RETURN crm.capture_score(p_lead.source_type, p_lead.budget_min, p_lead.budget_max, p_lead.nationality,
                             p_lead.property_type, p_lead.referrer_agent_id);
END
$$;
COMMENT ON FUNCTION crm.capture_score(crm.leads) IS
    'The capture score of a stored lead row from its inputs (source_type, budget_min, budget_max, nationality, '
    'property_type, referrer_agent_id), by the input form of crm.capture_score: {"score", "raw", "breakdown"}.';

-- crm.activity_points(type, outcome, response_seconds): the score change an activity earns from the active
-- 'activity' rules (outcome positive -> activity_positive, a viewing -> activity_viewing, an offer ->
-- activity_offer_made; they add up) and, for the lead's first agent contact (p_response_seconds given), the
-- response_time rules. Returns {"points", "rules": [{"rule", "factor", "points"}]}; clamping is the caller's.
CREATE OR REPLACE FUNCTION crm.activity_points(p_type crm.activity_type, p_outcome crm.activity_outcome,
                                               p_response_seconds integer DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql
STABLE
SET search_path = ''
AS $$
BEGIN
    RETURN (
        SELECT pg_catalog.jsonb_build_object(
                   'points', coalesce(sum(r.points), 0)::integer,
                   'rules', coalesce(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
                       'rule', r.rule_key, 'factor', r.factor, 'points', r.points::float8) ORDER BY r.rule_id), '[]'))
          FROM crm.lead_scoring_rules AS r
         WHERE r.is_active AND r.points IS NOT NULL
           AND ((r.factor = 'activity' AND r.match_value IN (
                    CASE WHEN p_outcome = 'positive' THEN 'positive' END,
                    CASE WHEN p_type = 'viewing' THEN 'viewing' END,
                    CASE WHEN p_type = 'offer_made' THEN 'offer_made' END))
             OR (r.factor = 'response_time' AND p_response_seconds IS NOT NULL
                 AND p_response_seconds / 3600.0 >= coalesce(r.min_value, 0)
                 AND (r.max_value IS NULL OR p_response_seconds / 3600.0 < r.max_value))));
END
$$;
COMMENT ON FUNCTION crm.activity_points(crm.activity_type, crm.activity_outcome, integer) IS
    'Score points an activity earns: activity rules (positive outcome +5, viewing +10, offer made +20, summed) plus the '
    'response-time rule on the first agent contact. {"points", "rules"}; the caller clamps the score to 0-100.';

-- crm.adjust_score(lead, points): adds points to a lead's score, clamped to 0..100; returns the change applied.
CREATE OR REPLACE FUNCTION crm.adjust_score(p_lead_id uuid, p_points integer)
RETURNS integer
LANGUAGE plpgsql
SET search_path = ''
AS $$
DECLARE
    v_old    integer;
    v_new    integer;
    v_closed boolean;
BEGIN
    SELECT l.score, crm.is_closed(l.status) INTO v_old, v_closed FROM crm.leads AS l WHERE l.lead_id = p_lead_id;
    IF v_closed THEN
        RETURN 0;   -- a closed lead's score is frozen (leads_score_frozen refuses a direct change too)
    END IF;
    v_new := least(100, greatest(0, v_old + p_points));
    IF v_new <> v_old THEN
        UPDATE crm.leads SET score = v_new WHERE lead_id = p_lead_id;
    END IF;
    RETURN v_new - v_old;
END
$$;
COMMENT ON FUNCTION crm.adjust_score(uuid, integer) IS
    'Adds points to a lead''s score, clamped to 0-100 (leads_score_range), and returns the change actually applied: '
    '0 for a closed (converted or lost) lead, whose score is frozen.';
