-- Property suggestions for a captured lead, asked by the API after the capture's commit: our own listings
-- (api.suggest_properties), or what an external service is told about the lead (api.lead_profile).

-- api.suggest_properties(lead, limit): listing ids for the capture response (the default suggestion source).
CREATE OR REPLACE FUNCTION api.suggest_properties(p_lead_id uuid, p_limit integer DEFAULT 3)
RETURNS jsonb
LANGUAGE plpgsql
STABLE
SECURITY DEFINER
SET search_path = ''
AS $$
BEGIN
    PERFORM crm.authorize('capture');
    RETURN (
    SELECT coalesce(pg_catalog.jsonb_agg(s.property_id), '[]'::jsonb) FROM crm.suggest_properties(p_lead_id, p_limit) AS s);
END
$$;
COMMENT ON FUNCTION api.suggest_properties(uuid, integer) IS
    'Up to p_limit listing ids suggested for a lead (crm.suggest_properties), as a JSON array. Callers that may capture '
    '(the API asks right after a capture, with the capturing key): listing ids only, no contact data. '
    'SECURITY DEFINER: reads crm.';

-- api.lead_profile(lead): what an external suggestion service is told about a lead.
CREATE OR REPLACE FUNCTION api.lead_profile(p_lead_id uuid)
RETURNS jsonb
LANGUAGE sql
STABLE
SECURITY DEFINER
SET search_path = ''
AS $$
    SELECT crm.authorize('capture');
    SELECT pg_catalog.jsonb_build_object(
        'lead_id', l.lead_id, 'property_type', l.property_type, 'budget_min', l.budget_min, 'budget_max', l.budget_max,
        'preferred_areas', coalesce((SELECT pg_catalog.jsonb_agg(a.area_code ORDER BY a.area_code)
                                       FROM crm.lead_preferred_areas AS a WHERE a.lead_id = l.lead_id), '[]'::jsonb),
        'source_property_id', l.source_property_id)
      FROM crm.leads AS l WHERE l.lead_id = p_lead_id
$$;
COMMENT ON FUNCTION api.lead_profile(uuid) IS
    'The lead''s wishes (type, budget, areas) as sent to an external property-suggestion service; no contact data. '
    'Callers that may capture (right after a capture, with the capturing key). SECURITY DEFINER: reads crm.';
