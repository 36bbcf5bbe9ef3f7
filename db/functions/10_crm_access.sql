-- crm.authorize: the endpoint matrix (crm.api_permissions, migration 0012) checked against the caller of the
-- transaction (crm.caller_role / crm.caller_agent_id, set by api.begin_request in 26_api_access.sql). First of the
-- function files because the api functions behind every endpoint call it.

-- crm.authorize(action, agent, lead): raises unless the caller may run the action (on that agent's data, on that
-- lead). Every api function behind an endpoint calls it first, so the matrix holds for psql callers too.
CREATE OR REPLACE FUNCTION crm.authorize(p_action text, p_agent_id uuid DEFAULT NULL, p_lead_id uuid DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql
STABLE
SECURITY DEFINER
SET search_path = ''
AS $$
DECLARE
    v_role  text := nullif(pg_catalog.current_setting('crm.caller_role', true), '');
    v_agent uuid;
    v_scope text;
BEGIN
    IF v_role IS NULL THEN
        IF session_user = 'thinkrealty_app' THEN  -- the API must always say who calls
            RAISE EXCEPTION 'no API key was presented' USING ERRCODE = 'PT401', CONSTRAINT = 'api_key_missing';
        END IF;
        RETURN;  -- a DBA's own session (the owner, a superuser): trusted, as psql always was
    END IF;
    SELECT p.scope INTO v_scope
      FROM crm.api_permissions AS p
     WHERE p.action = p_action AND p.role::text = v_role;
    IF v_scope IS NULL THEN
        RAISE EXCEPTION 'an API key with the role % may not %', v_role, replace(p_action, '_', ' ')
            USING ERRCODE = 'PT403', CONSTRAINT = 'forbidden',
                  DETAIL = pg_catalog.jsonb_build_object('role', v_role, 'action', p_action)::text;
    END IF;
    IF v_scope = 'own' THEN
        v_agent := nullif(pg_catalog.current_setting('crm.caller_agent_id', true), '')::uuid;
        IF p_agent_id IS NOT NULL AND p_agent_id IS DISTINCT FROM v_agent THEN
            RAISE EXCEPTION 'an agent key sees its own agent''s data only'
                USING ERRCODE = 'PT403', CONSTRAINT = 'forbidden',
                      DETAIL = pg_catalog.jsonb_build_object('role', v_role, 'action', p_action)::text;
        END IF;
        IF p_lead_id IS NOT NULL AND NOT EXISTS (
               SELECT 1 FROM crm.lead_assignments AS a
                WHERE a.lead_id = p_lead_id AND a.agent_id = v_agent AND a.released_at IS NULL) THEN
            -- another agent's lead does not exist for this caller (as row-level security shows it)
            RAISE EXCEPTION 'lead % not found', p_lead_id
                USING ERRCODE = 'PT404', CONSTRAINT = 'lead_not_found';
        END IF;
    END IF;
END
$$;
COMMENT ON FUNCTION crm.authorize(text, uuid, uuid) IS
    'Raises unless the caller (crm.caller_role / crm.caller_agent_id) may run p_action per crm.api_permissions: '
    'PT401 api_key_missing (the API''s login with no caller), PT403 forbidden (role not allowed, or an agent key on '
    'another agent''s dashboard), PT404 lead_not_found (an agent key on a lead it does not hold). A session of any '
    'other login without a caller is trusted (a DBA in psql). SECURITY DEFINER: reads the matrix and every '
    'agent''s assignments.';
