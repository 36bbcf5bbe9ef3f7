-- api.reassign_lead: POST /api/v1/leads/{lead_id}/reassign (a supervisor moves a lead, to a named agent or to
-- the best available one). The brief's LeadAssignmentManager.reassign_lead calls it too.
-- Errors: PT404 lead_not_found, PT409 no_agent_available, and those of crm.reassign_lead.
DROP FUNCTION IF EXISTS api.reassign_lead(uuid, text, uuid, text, timestamptz);
CREATE FUNCTION api.reassign_lead(p_lead_id uuid, p_reason text, p_new_agent uuid, p_actor text,
                                  p_now timestamptz DEFAULT NULL)
RETURNS json
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = ''
AS $$
DECLARE
    v_result jsonb;
BEGIN
    PERFORM crm.authorize('reassign_lead');
    PERFORM crm.set_actor(p_actor);
    PERFORM crm.lock_lead(p_lead_id);
    v_result := crm.reassign_lead(p_lead_id, 'manual', p_reason, p_new_agent, p_now);
    IF v_result ->> 'to_agent_id' IS NULL THEN
        RAISE EXCEPTION 'no other agent has free capacity for lead %', p_lead_id
            USING ERRCODE = 'PT409', CONSTRAINT = 'no_agent_available',
                  DETAIL = pg_catalog.json_build_object('lead_id', p_lead_id)::text;
    END IF;
    RETURN crm.lead_state(p_lead_id, NULL, v_result - 'decision');
END
$$;
COMMENT ON FUNCTION api.reassign_lead(uuid, text, uuid, text, timestamptz) IS
    'POST /api/v1/leads/{id}/reassign: moves the lead to p_new_agent (active, under capacity) or, when null, to the best '
    'ranked other agent. Errors: PT404 lead_not_found, PT404 agent_not_found, PT409 same_agent, PT409 agent_inactive, '
    'PT409 agent_full, PT409 lead_closed, PT409 no_agent_available; crm.authorize''s (supervisors and admins only). '
    'SECURITY DEFINER: moves a lead between two agents and their counters.';
