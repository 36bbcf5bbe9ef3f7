-- Agents as a REST resource: GET /api/v1/agents, GET/PATCH /api/v1/agents/{id}, POST /api/v1/agents.
-- The routing profile (languages, property types, areas) is written to its tables; the agent row's copy follows
-- by trigger (agents_profile_derived), as for every other writer.

-- crm.agent_resource(agent): one agent as json (the API's AgentResource order).
CREATE OR REPLACE FUNCTION crm.agent_resource(p_agent_id uuid)
RETURNS json
LANGUAGE plpgsql
STABLE
SET search_path = ''
AS $$
BEGIN
    RETURN (SELECT pg_catalog.json_build_object(
                'agent_id', g.agent_id, 'full_name', g.full_name, 'full_name_ar', g.full_name_ar, 'email', g.email,
                'phone', g.phone, 'role', g.role, 'supervisor_id', g.supervisor_id, 'is_active', g.is_active,
                'active_leads', g.active_leads, 'max_active_leads', g.max_active_leads,
                'free_capacity', greatest(0, g.max_active_leads - g.active_leads),
                'performance_score', g.performance_score, 'languages', pg_catalog.to_json(g.languages),
                'property_types', pg_catalog.to_json(g.property_types), 'areas', pg_catalog.to_json(g.area_codes),
                'last_assigned_at', g.last_assigned_at, 'hired_on', g.hired_on,
                'availability', crm.agent_availability(g.agent_id),
                'created_at', g.created_at, 'updated_at', g.updated_at)
              FROM crm.agents AS g WHERE g.agent_id = p_agent_id);
END
$$;
COMMENT ON FUNCTION crm.agent_resource(uuid) IS
    'One agent as the API shows it: identity, role, state, workload and capacity, performance, routing profile, '
    'availability now (crm.agent_availability).';

-- api.list_agents(filters, limit, cursor): one page {"items", "next"} of agents by name then id. filters: active
-- (bool), role, language, property_type, area, has_capacity (bool). Supervisors and admins.
-- Errors: PT422 invalid_filter, PT422 invalid_cursor; crm.authorize's.
CREATE OR REPLACE FUNCTION api.list_agents(p_filters jsonb DEFAULT '{}', p_limit integer DEFAULT 50,
                                           p_cursor text DEFAULT NULL)
RETURNS json
LANGUAGE plpgsql
STABLE
SECURITY DEFINER
SET search_path = ''
AS $$
DECLARE
    v_after jsonb := crm.decode_cursor(p_cursor);
    v_limit integer := crm.page_limit(p_limit);
    v_rows  json;
    v_last  jsonb;
    v_count integer;
BEGIN
    PERFORM crm.authorize('manage_agents');
    WITH page AS (
        SELECT g.agent_id, g.full_name FROM crm.agents AS g
         WHERE (p_filters ->> 'active' IS NULL OR g.is_active = (p_filters ->> 'active')::boolean)
           AND (p_filters ->> 'role' IS NULL OR g.role::text = p_filters ->> 'role')
           AND (p_filters ->> 'language' IS NULL OR p_filters ->> 'language' = ANY (g.languages))
           AND (p_filters ->> 'property_type' IS NULL OR (p_filters ->> 'property_type')::crm.property_type = ANY (g.property_types))
           AND (p_filters ->> 'area' IS NULL OR p_filters ->> 'area' = ANY (g.area_codes))
           AND (p_filters ->> 'has_capacity' IS NULL
                OR (g.is_active AND g.active_leads < g.max_active_leads) = (p_filters ->> 'has_capacity')::boolean)
           AND (v_after IS NULL OR (g.full_name::text, g.agent_id) > (v_after ->> 'k', (v_after ->> 'id')::uuid))
         ORDER BY g.full_name::text, g.agent_id
         LIMIT v_limit
    )
    SELECT coalesce(pg_catalog.json_agg(crm.agent_resource(p.agent_id) ORDER BY p.full_name::text, p.agent_id), '[]'::json),
           (SELECT pg_catalog.jsonb_build_object('k', x.full_name, 'id', x.agent_id)
              FROM page AS x ORDER BY x.full_name::text DESC, x.agent_id DESC LIMIT 1),
           count(*)
      INTO v_rows, v_last, v_count
      FROM page AS p;
    RETURN pg_catalog.json_build_object('items', v_rows,
                                        'next', CASE WHEN v_count = v_limit THEN crm.encode_cursor(v_last) END);
EXCEPTION
    WHEN invalid_text_representation THEN
        RAISE EXCEPTION 'a filter or the cursor has a value of the wrong kind' USING ERRCODE = 'PT422', CONSTRAINT = 'invalid_filter';
END
$$;
COMMENT ON FUNCTION api.list_agents(jsonb, integer, text) IS
    'GET /api/v1/agents: one keyset page of agents by name with workload, capacity, performance and routing profile. '
    'Supervisors and admins. Errors: PT422 invalid_filter, invalid_cursor; crm.authorize''s. SECURITY DEFINER: reads '
    'every agent for a caller the matrix allowed.';

-- api.get_agent(agent): one agent. An agent key: its own only. Errors: PT404 agent_not_found; crm.authorize's.
CREATE OR REPLACE FUNCTION api.get_agent(p_agent_id uuid)
RETURNS json
LANGUAGE plpgsql
STABLE
SECURITY DEFINER
SET search_path = ''
AS $$
DECLARE
    v_agent json;
BEGIN
    PERFORM crm.authorize('read_agents', p_agent_id);
    v_agent := crm.agent_resource(p_agent_id);
    IF v_agent IS NULL THEN
        RAISE EXCEPTION 'agent % does not exist', p_agent_id USING ERRCODE = 'PT404', CONSTRAINT = 'agent_not_found';
    END IF;
    RETURN v_agent;
END
$$;
COMMENT ON FUNCTION api.get_agent(uuid) IS
    'GET /api/v1/agents/{id}. Errors: PT404 agent_not_found; crm.authorize''s (an agent key on another agent: PT403). '
    'SECURITY DEFINER: reads the agent for a caller the matrix allowed.';

-- crm.set_agent_profile(agent, profile): replaces the languages, property types and areas given (each key present
-- replaces that list; absent keys stay). Errors: PT422 unknown_language, unknown_area; 22P02 for a bad property type.
CREATE OR REPLACE FUNCTION crm.set_agent_profile(p_agent_id uuid, p_profile jsonb)
RETURNS void
LANGUAGE plpgsql
SET search_path = ''
AS $$
DECLARE
    v_bad text;
BEGIN
    IF p_profile ? 'languages' THEN
        SELECT min(x.v) INTO v_bad FROM pg_catalog.jsonb_array_elements_text(p_profile -> 'languages') AS x (v)
         WHERE crm.language_key(x.v) IS NULL;
        IF v_bad IS NOT NULL THEN
            RAISE EXCEPTION 'language "%" is not one we route on', v_bad USING ERRCODE = 'PT422', CONSTRAINT = 'unknown_language';
        END IF;
        DELETE FROM crm.agent_languages WHERE agent_id = p_agent_id;
        INSERT INTO crm.agent_languages (agent_id, language)
        SELECT DISTINCT p_agent_id, crm.language_key(x.v) FROM pg_catalog.jsonb_array_elements_text(p_profile -> 'languages') AS x (v);
    END IF;
    IF p_profile ? 'areas' THEN
        SELECT min(x.v) INTO v_bad FROM pg_catalog.jsonb_array_elements_text(p_profile -> 'areas') AS x (v)
         WHERE crm.area_code(x.v) IS NULL;
        IF v_bad IS NOT NULL THEN
            RAISE EXCEPTION 'not a known Dubai area: %', v_bad USING ERRCODE = 'PT422', CONSTRAINT = 'unknown_area';
        END IF;
        DELETE FROM crm.agent_areas WHERE agent_id = p_agent_id;
        INSERT INTO crm.agent_areas (agent_id, area_code)
        SELECT DISTINCT p_agent_id, crm.area_code(x.v) FROM pg_catalog.jsonb_array_elements_text(p_profile -> 'areas') AS x (v);
    END IF;
    IF p_profile ? 'property_types' THEN
        DELETE FROM crm.agent_property_types WHERE agent_id = p_agent_id;
        INSERT INTO crm.agent_property_types (agent_id, property_type)
        SELECT DISTINCT p_agent_id, x.v::crm.property_type
          FROM pg_catalog.jsonb_array_elements_text(p_profile -> 'property_types') AS x (v);
    END IF;
END
$$;
COMMENT ON FUNCTION crm.set_agent_profile(uuid, jsonb) IS
    'Replaces an agent''s languages / property types / areas (each list given); the agent row''s copy follows by '
    'trigger. Errors: PT422 unknown_language, PT422 unknown_area.';

-- api.create_agent(input, actor): a new agent: full_name, email, phone (E.164), role, max_active_leads (0..50),
-- supervisor_id, hired_on, full_name_ar, languages, property_types, areas. Returns the agent.
-- Errors: agents_email_key (409), the CHECKs of crm.agents (422), crm.set_agent_profile's; crm.authorize's.
CREATE OR REPLACE FUNCTION api.create_agent(p_input jsonb, p_actor text)
RETURNS json
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = ''
AS $$
DECLARE
    v_agent uuid;
BEGIN
    PERFORM crm.authorize('manage_agents');
    PERFORM crm.set_actor(p_actor);
    INSERT INTO crm.agents (full_name, full_name_ar, email, phone, role, supervisor_id, max_active_leads, hired_on)
    VALUES (p_input ->> 'full_name', p_input ->> 'full_name_ar', p_input ->> 'email', p_input ->> 'phone',
            coalesce(p_input ->> 'role', 'agent')::crm.agent_role, (p_input ->> 'supervisor_id')::uuid,
            coalesce((p_input ->> 'max_active_leads')::smallint, 50), (p_input ->> 'hired_on')::date)
    RETURNING agent_id INTO v_agent;
    PERFORM crm.set_agent_profile(v_agent, p_input);
    RETURN crm.agent_resource(v_agent);
END
$$;
COMMENT ON FUNCTION api.create_agent(jsonb, text) IS
    'POST /api/v1/agents: a new agent with its routing profile. Errors: agents_email_key (409), CHECKs of crm.agents, '
    'PT422 unknown_language, unknown_area; crm.authorize''s (supervisors and admins). SECURITY DEFINER: writes crm.';

-- api.patch_agent(agent, changes, actor): changes full_name, full_name_ar, email, phone, role, supervisor_id,
-- max_active_leads, is_active and the routing profile. Lowering max_active_leads below the agent's open leads is
-- refused (PT409 capacity_below_workload, DETAIL: active_leads): the supervisor moves leads first, or lets the
-- balancing sweep do it. Deactivating an agent moves every open lead they hold to the best available other agent
-- (reassignment reason agent_deactivated) in the same transaction; when some lead finds nobody with room the
-- deactivation is refused (PT409 agent_leads_unplaced, DETAIL: how many), and nothing changed.
-- Errors: PT404 agent_not_found, PT409 capacity_below_workload, PT409 agent_leads_unplaced, crm.set_agent_profile's,
-- constraints; crm.authorize's.
CREATE OR REPLACE FUNCTION api.patch_agent(p_agent_id uuid, p_changes jsonb, p_actor text)
RETURNS json
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = ''
AS $$
DECLARE
    v_agent   crm.agents;
    v_lead    uuid;
    v_moved   jsonb;
    v_stuck   integer := 0;
BEGIN
    PERFORM crm.authorize('manage_agents');
    PERFORM crm.set_actor(p_actor);
    SELECT * INTO v_agent FROM crm.agents AS g WHERE g.agent_id = p_agent_id FOR NO KEY UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'agent % does not exist', p_agent_id USING ERRCODE = 'PT404', CONSTRAINT = 'agent_not_found';
    END IF;
    IF (p_changes ->> 'max_active_leads')::integer < v_agent.active_leads THEN
        RAISE EXCEPTION 'agent % holds % open leads: a capacity of % is below that', p_agent_id, v_agent.active_leads,
                        p_changes ->> 'max_active_leads'
            USING ERRCODE = 'PT409', CONSTRAINT = 'capacity_below_workload',
                  DETAIL = pg_catalog.json_build_object('active_leads', v_agent.active_leads)::text,
                  HINT = 'Reassign some of the agent''s leads first.';
    END IF;
    IF (p_changes ->> 'is_active')::boolean IS FALSE AND v_agent.is_active THEN
        -- the leads go first, while the agent is still active (the reassignment excludes them as a target)
        FOR v_lead IN SELECT a.lead_id FROM crm.lead_assignments AS a JOIN crm.leads AS l ON l.lead_id = a.lead_id
                       WHERE a.agent_id = p_agent_id AND a.released_at IS NULL AND NOT crm.is_closed(l.status)
                       ORDER BY a.assigned_at, a.lead_id LOOP
            PERFORM crm.lock_lead(v_lead);
            v_moved := crm.reassign_lead(v_lead, 'manual', 'agent_deactivated', NULL, NULL, false);
            IF v_moved ->> 'to_agent_id' IS NULL THEN
                v_stuck := v_stuck + 1;
            END IF;
        END LOOP;
        IF v_stuck > 0 THEN
            RAISE EXCEPTION '% open leads of agent % found no other agent with room', v_stuck, p_agent_id
                USING ERRCODE = 'PT409', CONSTRAINT = 'agent_leads_unplaced',
                      DETAIL = pg_catalog.json_build_object('unplaced_leads', v_stuck)::text,
                      HINT = 'Raise other agents'' capacity, or reassign the leads by hand first.';
        END IF;
    END IF;
    UPDATE crm.agents AS g SET
        full_name = coalesce(p_changes ->> 'full_name', g.full_name),
        full_name_ar = CASE WHEN p_changes ? 'full_name_ar' THEN p_changes ->> 'full_name_ar' ELSE g.full_name_ar END,
        email = coalesce(p_changes ->> 'email', g.email),
        phone = coalesce(p_changes ->> 'phone', g.phone),
        role = coalesce((p_changes ->> 'role')::crm.agent_role, g.role),
        supervisor_id = CASE WHEN p_changes ? 'supervisor_id' THEN (p_changes ->> 'supervisor_id')::uuid ELSE g.supervisor_id END,
        max_active_leads = coalesce((p_changes ->> 'max_active_leads')::smallint, g.max_active_leads),
        is_active = coalesce((p_changes ->> 'is_active')::boolean, g.is_active)
     WHERE g.agent_id = p_agent_id;
    PERFORM crm.set_agent_profile(p_agent_id, p_changes);
    RETURN crm.agent_resource(p_agent_id);
END
$$;
COMMENT ON FUNCTION api.patch_agent(uuid, jsonb, text) IS
    'PATCH /api/v1/agents/{id}: identity, role, capacity, activity and routing profile. Deactivation moves the agent''s '
    'open leads (reason agent_deactivated) or is refused whole. Errors: PT404 agent_not_found, PT409 '
    'capacity_below_workload, PT409 agent_leads_unplaced, PT422 unknown_language, unknown_area, constraints; '
    'crm.authorize''s. SECURITY DEFINER: moves leads between agents and their counters.';
