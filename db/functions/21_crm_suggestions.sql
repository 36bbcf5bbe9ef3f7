-- Property suggestions from our own listings: the default suggestion source (PROPERTY_SERVICE_URL unset).

-- crm.suggest_properties(lead, limit): up to p_limit available listings for a lead. A listing qualifies when
-- its type is the lead's type (any type when the lead gave none) and its price overlaps the budget widened by
-- the setting suggestion_budget_tolerance (10 %) each way (any price when no budget). Ranked by preferred area first, then closeness of the price to the
-- budget's midpoint, then the newest listing. The listing the lead inquired about is not suggested back.
CREATE OR REPLACE FUNCTION crm.suggest_properties(p_lead_id uuid, p_limit integer DEFAULT 3)
RETURNS TABLE (property_id uuid, reference text, area_code text, price_aed numeric, in_preferred_area boolean)
LANGUAGE plpgsql
STABLE
SET search_path = ''
AS $$
DECLARE
    v_tolerance numeric := (crm.setting('suggestion_budget_tolerance') #>> '{}')::numeric;
BEGIN
    RETURN QUERY
    SELECT p.property_id, p.reference, p.area_code, p.price_aed,
           p.area_code IN (SELECT a.area_code FROM crm.lead_preferred_areas AS a WHERE a.lead_id = l.lead_id)
      FROM crm.leads AS l
      JOIN crm.properties AS p
        ON p.status = 'available'
       AND (l.property_type IS NULL OR p.property_type = l.property_type)
       AND (l.budget_min IS NULL OR p.price_aed >= l.budget_min * (1 - v_tolerance))
       AND (l.budget_max IS NULL OR p.price_aed <= l.budget_max * (1 + v_tolerance))
       AND p.property_id IS DISTINCT FROM l.source_property_id
     WHERE l.lead_id = p_lead_id
     ORDER BY 5 DESC,
              abs(p.price_aed - coalesce((l.budget_min + l.budget_max) / 2, l.budget_max, l.budget_min, p.price_aed)),
              p.listed_on DESC, p.property_id
     LIMIT greatest(0, least(p_limit, 20));
END
$$;
COMMENT ON FUNCTION crm.suggest_properties(uuid, integer) IS
    'Up to p_limit (max 20) available listings for a lead: same property type, price within the budget widened by 10 %, '
    'preferred areas first, then closest to the budget midpoint, then newest; never the listing the lead came from.';
