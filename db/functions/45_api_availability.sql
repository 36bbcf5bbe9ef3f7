-- Agent availability over HTTP: the weekly schedule (PUT/GET /api/v1/agents/{id}/schedule), absences
-- (POST/GET /api/v1/agents/{id}/absences, DELETE .../{absence_id}) and the pause (POST/DELETE .../pause). Supervisors
-- manage everything (manage_availability); an agent its own pause (pause, scope own). The rules themselves live in
-- 28_crm_availability.sql and the tables' constraints.

-- crm.require_agent(agent): PT404 agent_not_found unless the agent exists.
CREATE OR REPLACE FUNCTION crm.require_agent(p_agent_id uuid)
RETURNS void
LANGUAGE plpgsql
STABLE
SET search_path = ''
AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM crm.agents AS g WHERE g.agent_id = p_agent_id) THEN
        RAISE EXCEPTION 'agent % does not exist', p_agent_id USING ERRCODE = 'PT404', CONSTRAINT = 'agent_not_found',
            DETAIL = pg_catalog.json_build_object('agent_id', p_agent_id)::text;
    END IF;
END
$$;
COMMENT ON FUNCTION crm.require_agent(uuid) IS 'Raises PT404 agent_not_found for an unknown agent.';

-- crm.schedule_resource(agent): the agent's weekly hours and availability now.
CREATE OR REPLACE FUNCTION crm.schedule_resource(p_agent_id uuid)
RETURNS json
LANGUAGE plpgsql
STABLE
SET search_path = ''
AS $$
BEGIN
    RETURN pg_catalog.json_build_object(
        'agent_id', p_agent_id,
        'timezone', crm.setting('timezone') #>> '{}',
        'uses_office_hours', NOT EXISTS (SELECT 1 FROM crm.agent_working_hours AS h WHERE h.agent_id = p_agent_id),
        'hours', (SELECT coalesce(pg_catalog.json_agg(pg_catalog.json_build_object(
                      'day', h.isodow, 'start', to_char(h.starts, 'HH24:MI'),
                      'end', CASE WHEN h.ends = '24:00' THEN '24:00' ELSE to_char(h.ends, 'HH24:MI') END)
                      ORDER BY h.isodow, h.starts), '[]'::json)
                    FROM crm.agent_working_hours AS h WHERE h.agent_id = p_agent_id),
        'availability', crm.agent_availability(p_agent_id));
END
$$;
COMMENT ON FUNCTION crm.schedule_resource(uuid) IS
    'An agent''s weekly hours (ISO day, start, end; local time of the timezone setting), whether it works the office''s '
    'hours instead, and its availability now.';

-- api.put_agent_schedule(agent, hours, actor): PUT /api/v1/agents/{id}/schedule: the agent's weekly hours replaced by
-- p_hours ([{day, start, end}], "HH:MM", end up to "24:00"; [] = the office's business_hours). Supervisors.
-- Errors: PT404 agent_not_found, PT422 schedule_overlap (two ranges of one day overlap; DETAIL names the field),
-- the table's CHECKs (422); crm.authorize's.
CREATE OR REPLACE FUNCTION api.put_agent_schedule(p_agent_id uuid, p_hours jsonb, p_actor text)
RETURNS json
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = ''
AS $$
DECLARE
    v_clash record;
BEGIN
    PERFORM crm.authorize('manage_availability', p_agent_id);
    PERFORM crm.set_actor(p_actor);
    PERFORM crm.require_agent(p_agent_id);
    SELECT b.i INTO v_clash
      FROM pg_catalog.jsonb_array_elements(p_hours) WITH ORDINALITY AS a (h, i)
      JOIN pg_catalog.jsonb_array_elements(p_hours) WITH ORDINALITY AS b (h, i)
        ON a.i < b.i AND (a.h ->> 'day')::integer = (b.h ->> 'day')::integer
       AND (a.h ->> 'start')::time < (b.h ->> 'end')::time AND (b.h ->> 'start')::time < (a.h ->> 'end')::time
     ORDER BY b.i LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'two working ranges of one day overlap' USING ERRCODE = 'PT422', CONSTRAINT = 'schedule_overlap',
            DETAIL = pg_catalog.json_build_object('field', 'hours.' || (v_clash.i - 1))::text;
    END IF;
    PERFORM 1 FROM crm.agents AS g WHERE g.agent_id = p_agent_id FOR NO KEY UPDATE;  -- one schedule change at a time
    DELETE FROM crm.agent_working_hours AS h WHERE h.agent_id = p_agent_id;
    INSERT INTO crm.agent_working_hours (agent_id, isodow, starts, ends)
    SELECT p_agent_id, (h ->> 'day')::smallint, (h ->> 'start')::time, (h ->> 'end')::time
      FROM pg_catalog.jsonb_array_elements(p_hours) AS h;
    RETURN crm.schedule_resource(p_agent_id);
END
$$;
COMMENT ON FUNCTION api.put_agent_schedule(uuid, jsonb, text) IS
    'PUT /api/v1/agents/{id}/schedule: replaces the agent''s weekly hours ([] = office hours). Supervisors. Errors: PT404 '
    'agent_not_found, PT422 schedule_overlap, agent_working_hours_* CHECKs; crm.authorize''s. SECURITY DEFINER: writes '
    'the hours.';

-- api.agent_schedule(agent): GET /api/v1/agents/{id}/schedule. An agent key: its own. Errors: PT404 agent_not_found.
CREATE OR REPLACE FUNCTION api.agent_schedule(p_agent_id uuid)
RETURNS json
LANGUAGE plpgsql
STABLE
SECURITY DEFINER
SET search_path = ''
AS $$
BEGIN
    PERFORM crm.authorize('read_agents', p_agent_id);
    PERFORM crm.require_agent(p_agent_id);
    RETURN crm.schedule_resource(p_agent_id);
END
$$;
COMMENT ON FUNCTION api.agent_schedule(uuid) IS
    'GET /api/v1/agents/{id}/schedule: weekly hours and availability now. Agents (own), supervisors, admins. Errors: '
    'PT404 agent_not_found; crm.authorize''s. SECURITY DEFINER: reads the hours.';

-- crm.absence_resource(absence)
CREATE OR REPLACE FUNCTION crm.absence_resource(p_absence crm.agent_absences)
RETURNS json
LANGUAGE plpgsql
IMMUTABLE
SET search_path = ''
AS $$
BEGIN
    RETURN pg_catalog.json_build_object(
        'absence_id', p_absence.absence_id, 'agent_id', p_absence.agent_id, 'starts_at', lower(p_absence.period),
        'ends_at', upper(p_absence.period), 'reason', p_absence.reason, 'note', p_absence.note,
        'created_at', p_absence.created_at, 'created_by', p_absence.created_by);
END
$$;
COMMENT ON FUNCTION crm.absence_resource(crm.agent_absences) IS 'One absence as the API shows it.';

-- api.add_agent_absence(agent, input, actor): POST /api/v1/agents/{id}/absences: {starts_at, ends_at, reason,
-- note}. Supervisors. Errors: PT404 agent_not_found, PT422 absence_overlap (DETAIL: field starts_at and the
-- absence it overlaps), agent_absences_* CHECKs (422); a concurrent overlapping insert: agent_absences_no_overlap
-- (409); crm.authorize's.
CREATE OR REPLACE FUNCTION api.add_agent_absence(p_agent_id uuid, p_input jsonb, p_actor text)
RETURNS json
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = ''
AS $$
DECLARE
    v_period  tstzrange;
    v_other   uuid;
    v_absence crm.agent_absences;
BEGIN
    PERFORM crm.authorize('manage_availability', p_agent_id);
    PERFORM crm.set_actor(p_actor);
    PERFORM crm.require_agent(p_agent_id);
    IF (p_input ->> 'ends_at')::timestamptz <= (p_input ->> 'starts_at')::timestamptz THEN
        RAISE EXCEPTION 'an absence ends after it starts' USING ERRCODE = 'PT422', CONSTRAINT = 'absence_period',
            DETAIL = pg_catalog.json_build_object('field', 'ends_at')::text;
    END IF;
    v_period := pg_catalog.tstzrange((p_input ->> 'starts_at')::timestamptz, (p_input ->> 'ends_at')::timestamptz);
    SELECT a.absence_id INTO v_other FROM crm.agent_absences AS a
     WHERE a.agent_id = p_agent_id AND a.period && v_period LIMIT 1;
    IF v_other IS NOT NULL THEN
        RAISE EXCEPTION 'the absence overlaps another of the same agent' USING ERRCODE = 'PT422',
            CONSTRAINT = 'absence_overlap',
            DETAIL = pg_catalog.json_build_object('field', 'starts_at', 'absence_id', v_other)::text;
    END IF;
    INSERT INTO crm.agent_absences (agent_id, period, reason, note, created_by)
    VALUES (p_agent_id, v_period, (p_input ->> 'reason')::crm.absence_reason, p_input ->> 'note', crm.actor())
    RETURNING * INTO v_absence;
    RETURN crm.absence_resource(v_absence);
END
$$;
COMMENT ON FUNCTION api.add_agent_absence(uuid, jsonb, text) IS
    'POST /api/v1/agents/{id}/absences. Supervisors. Errors: PT404 agent_not_found, PT422 absence_period, PT422 '
    'absence_overlap, agent_absences_no_overlap (409, a concurrent insert); crm.authorize''s. SECURITY DEFINER: writes '
    'the absences.';

-- api.agent_absences(agent, include past, limit, cursor): one page {"items", "next"} of an agent's absences by start
-- (by default those not yet over). An agent key: its own. Errors: PT404 agent_not_found, PT422 invalid_cursor.
CREATE OR REPLACE FUNCTION api.agent_absences(p_agent_id uuid, p_include_past boolean DEFAULT false,
                                              p_limit integer DEFAULT 50, p_cursor text DEFAULT NULL)
RETURNS json
LANGUAGE plpgsql
STABLE
SECURITY DEFINER
SET search_path = ''
AS $$
DECLARE
    v_after jsonb := crm.decode_cursor(p_cursor);
    v_limit integer := crm.page_limit(p_limit);
    v_items json;
    v_last  jsonb;
    v_count integer;
BEGIN
    PERFORM crm.authorize('read_agents', p_agent_id);
    PERFORM crm.require_agent(p_agent_id);
    WITH page AS (
        SELECT a.* FROM crm.agent_absences AS a
         WHERE a.agent_id = p_agent_id AND (p_include_past OR upper(a.period) > now())
           AND (v_after IS NULL OR (lower(a.period), a.absence_id) > ((v_after ->> 'k')::timestamptz, (v_after ->> 'id')::uuid))
         ORDER BY lower(a.period), a.absence_id
         LIMIT v_limit)
    SELECT coalesce(pg_catalog.json_agg(crm.absence_resource(p::crm.agent_absences) ORDER BY lower(p.period), p.absence_id),
                    '[]'::json),
           (SELECT pg_catalog.jsonb_build_object('k', lower(x.period), 'id', x.absence_id) FROM page AS x
             ORDER BY lower(x.period) DESC, x.absence_id DESC LIMIT 1),
           count(*)
      INTO v_items, v_last, v_count FROM page AS p;
    RETURN pg_catalog.json_build_object('items', v_items,
                                        'next', CASE WHEN v_count = v_limit THEN crm.encode_cursor(v_last) END);
END
$$;
COMMENT ON FUNCTION api.agent_absences(uuid, boolean, integer, text) IS
    'GET /api/v1/agents/{id}/absences: keyset pages by start; past ones only with p_include_past. Agents (own), '
    'supervisors, admins. Errors: PT404 agent_not_found, PT422 invalid_cursor; crm.authorize''s. SECURITY DEFINER: '
    'reads the absences.';

-- api.delete_agent_absence(agent, absence, actor): DELETE /api/v1/agents/{id}/absences/{absence_id}. Supervisors.
-- Errors: PT404 absence_not_found; crm.authorize's.
CREATE OR REPLACE FUNCTION api.delete_agent_absence(p_agent_id uuid, p_absence_id uuid, p_actor text)
RETURNS json
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = ''
AS $$
BEGIN
    PERFORM crm.authorize('manage_availability', p_agent_id);
    PERFORM crm.set_actor(p_actor);
    DELETE FROM crm.agent_absences AS a WHERE a.absence_id = p_absence_id AND a.agent_id = p_agent_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'absence % of agent % not found', p_absence_id, p_agent_id
            USING ERRCODE = 'PT404', CONSTRAINT = 'absence_not_found',
                  DETAIL = pg_catalog.json_build_object('absence_id', p_absence_id)::text;
    END IF;
    RETURN pg_catalog.json_build_object('absence_id', p_absence_id, 'deleted', true);
END
$$;
COMMENT ON FUNCTION api.delete_agent_absence(uuid, uuid, text) IS
    'DELETE /api/v1/agents/{id}/absences/{absence_id}. Supervisors. Errors: PT404 absence_not_found; crm.authorize''s. '
    'SECURITY DEFINER: writes the absences.';

-- api.pause_agent(agent, until, reason, actor): POST /api/v1/agents/{id}/pause: no new lead before p_until (after
-- now, at most max_pause ahead). The agent itself or a supervisor. Returns the availability.
-- Errors: PT404 agent_not_found, PT422 pause_out_of_range (DETAIL: field until); crm.authorize's.
CREATE OR REPLACE FUNCTION api.pause_agent(p_agent_id uuid, p_until timestamptz, p_reason text, p_actor text)
RETURNS json
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = ''
AS $$
BEGIN
    PERFORM crm.authorize('pause', p_agent_id);
    PERFORM crm.set_actor(p_actor);
    PERFORM crm.require_agent(p_agent_id);
    IF p_until <= now() OR p_until > now() + crm.setting_interval('max_pause') THEN
        RAISE EXCEPTION 'a pause ends after now and within %', crm.setting('max_pause') #>> '{}'
            USING ERRCODE = 'PT422', CONSTRAINT = 'pause_out_of_range',
                  DETAIL = pg_catalog.json_build_object('field', 'until', 'max_pause', crm.setting('max_pause') #>> '{}')::text;
    END IF;
    UPDATE crm.agents SET paused_until = p_until, pause_reason = p_reason WHERE agent_id = p_agent_id;
    RETURN crm.agent_availability(p_agent_id);
END
$$;
COMMENT ON FUNCTION api.pause_agent(uuid, timestamptz, text, text) IS
    'POST /api/v1/agents/{id}/pause: no new lead until p_until (within max_pause). The agent (own) or supervisors. '
    'Errors: PT404 agent_not_found, PT422 pause_out_of_range; crm.authorize''s. SECURITY DEFINER: writes the agent row.';

-- api.resume_agent(agent, actor): DELETE /api/v1/agents/{id}/pause: the pause ends now (nothing when none).
CREATE OR REPLACE FUNCTION api.resume_agent(p_agent_id uuid, p_actor text)
RETURNS json
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = ''
AS $$
BEGIN
    PERFORM crm.authorize('pause', p_agent_id);
    PERFORM crm.set_actor(p_actor);
    PERFORM crm.require_agent(p_agent_id);
    UPDATE crm.agents SET paused_until = NULL, pause_reason = NULL
     WHERE agent_id = p_agent_id AND paused_until IS NOT NULL;
    RETURN crm.agent_availability(p_agent_id);
END
$$;
COMMENT ON FUNCTION api.resume_agent(uuid, text) IS
    'DELETE /api/v1/agents/{id}/pause: ends the pause. The agent (own) or supervisors. Errors: PT404 agent_not_found; '
    'crm.authorize''s. SECURITY DEFINER: writes the agent row.';
