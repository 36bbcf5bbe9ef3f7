-- The brief's LeadScoringEngine.calculate_lead_score and LeadAssignmentManager.assign_lead as api functions
-- (api/engine.py calls them): scoring without storing, and assigning a lead that waits for an agent.

-- api.score_lead(input): the brief's LeadScoringEngine.calculate_lead_score. Scores lead_data + source_details
-- (as the capture body has them) without storing anything.
CREATE OR REPLACE FUNCTION api.score_lead(p_input jsonb)
RETURNS jsonb
LANGUAGE plpgsql
STABLE
SECURITY DEFINER
SET search_path = ''
AS $$
BEGIN
    PERFORM crm.authorize('capture');
    PERFORM crm.require_source(p_input ->> 'source_type', false);   -- an inactive source can still be scored
    RETURN crm.score_lead(
        p_input ->> 'source_type',
        (p_input #>> '{lead_data,budget_min}')::numeric,
        (p_input #>> '{lead_data,budget_max}')::numeric,
        crm.country_code(p_input #>> '{lead_data,nationality}'),
        (p_input #>> '{lead_data,property_type}')::crm.property_type,
        p_input ->> 'source_type' = 'referral'
            OR EXISTS (SELECT 1 FROM crm.agents AS g
                        WHERE g.agent_id::text = p_input #>> '{source_details,referrer_agent_id}'),
        (p_input #>> '{lead_data,response_seconds}')::integer);
END
$$;
COMMENT ON FUNCTION api.score_lead(jsonb) IS
    'LeadScoringEngine.calculate_lead_score: {"score", "raw", "breakdown"} for a capture-shaped body, stores nothing. '
    'Callers that may capture (crm.authorize(''capture'')). Errors: PT422 unknown_source (not a row of '
    'crm.lead_sources). SECURITY DEFINER: reads the scoring rules in crm.';

-- api.assign_lead(lead, actor): the brief's LeadAssignmentManager.assign_lead for a lead without an agent
-- (a queued lead, typically): assigns it now, or leaves it queued. Returns the decision plus the follow-up.
-- Errors: PT404 lead_not_found, PT409 lead_already_assigned, PT409 lead_closed.
CREATE OR REPLACE FUNCTION api.assign_lead(p_lead_id uuid, p_actor text)
RETURNS jsonb
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = ''
AS $$
DECLARE
    v_score    integer;
    v_decision jsonb;
    v_follow   jsonb;
BEGIN
    PERFORM crm.authorize('reassign_lead');   -- giving a lead an agent is a supervisor's move, as reassigning is
    PERFORM crm.set_actor(p_actor);
    v_score := (crm.lock_lead(p_lead_id)).score;
    v_decision := crm.assign_lead(p_lead_id, 'auto', NULL, NULL, 'assigned on request', now());
    IF v_decision ->> 'agent_id' IS NOT NULL
       AND NOT EXISTS (SELECT 1 FROM crm.follow_up_tasks AS t WHERE t.lead_id = p_lead_id AND t.status = 'open') THEN
        v_follow := crm.schedule_initial_follow_up(p_lead_id, (v_decision ->> 'agent_id')::uuid, v_score, now());
    END IF;
    RETURN v_decision || pg_catalog.jsonb_build_object('follow_up', v_follow);
END
$$;
COMMENT ON FUNCTION api.assign_lead(uuid, text) IS
    'LeadAssignmentManager.assign_lead: assigns a lead that has no agent (or leaves it queued) and books its first follow-up. '
    'Supervisors and admins (crm.authorize(''reassign_lead'')). Errors: PT404 lead_not_found, PT409 lead_already_assigned, '
    'PT409 lead_closed; crm.authorize''s. SECURITY DEFINER: writes crm.';
