-- The lead as a REST resource: GET /api/v1/leads/{id}, GET /api/v1/leads (filter, sort, search, keyset pages),
-- GET /api/v1/leads/{id}/timeline, PATCH /api/v1/leads/{id}. The reads are SECURITY INVOKER: row-level security
-- shows an agent caller only the leads assigned to them (another agent's lead is 404, as it does not exist for them).
-- docs/api.md states the conventions (cursors, filters, sorts, ETags).

-- api.get_lead(lead): the lead resource (crm.lead_resource). Errors: PT404 lead_not_found; crm.authorize's.
CREATE OR REPLACE FUNCTION api.get_lead(p_lead_id uuid)
RETURNS json
LANGUAGE plpgsql
STABLE
SECURITY INVOKER  -- reads through the caller's row-level security
SET search_path = ''
AS $$
DECLARE
    v_lead json;
BEGIN
    PERFORM crm.authorize('read_leads', NULL, p_lead_id);
    v_lead := crm.lead_resource(p_lead_id);
    IF v_lead IS NULL THEN
        RAISE EXCEPTION 'lead % not found', p_lead_id USING ERRCODE = 'PT404', CONSTRAINT = 'lead_not_found';
    END IF;
    RETURN v_lead;
END
$$;
COMMENT ON FUNCTION api.get_lead(uuid) IS
    'GET /api/v1/leads/{id}: the lead resource with its score breakdown and assignment decision. Errors: PT404 '
    'lead_not_found; crm.authorize''s. SECURITY INVOKER: row-level security decides which leads exist for the caller.';

-- crm.lead_summaries(ids): the list items of these leads, in the order given (the API's LeadSummary). A static
-- query (its plan kept for the session) apart from the page's own, which is planned at each call. Reads as its
-- caller.
CREATE OR REPLACE FUNCTION crm.lead_summaries(p_ids uuid[])
RETURNS json
LANGUAGE plpgsql
STABLE
SET search_path = ''
AS $$
BEGIN
    RETURN (
        SELECT coalesce(pg_catalog.json_agg(pg_catalog.json_build_object(
                   'lead_id', l.lead_id, 'version', l.version, 'first_name', l.first_name, 'last_name', l.last_name,
                   'phone', l.phone, 'email', l.email, 'source_type', l.source_type, 'status', l.status,
                   'score', l.score,
                   'agent_id', (SELECT a.agent_id FROM crm.lead_assignments AS a
                                 WHERE a.lead_id = l.lead_id AND a.released_at IS NULL),
                   'queued', l.queued_at IS NOT NULL, 'duplicate_of', l.duplicate_of,
                   'language_preference', l.language_preference, 'property_type', l.property_type,
                   'created_at', l.created_at, 'last_activity_at', l.last_activity_at,
                   'next_follow_up_at', (SELECT min(t.due_at) FROM crm.follow_up_tasks AS t
                                          WHERE t.lead_id = l.lead_id AND t.status = 'open'))
                   ORDER BY i.ord), '[]'::json)
          FROM pg_catalog.unnest(p_ids) WITH ORDINALITY AS i (lead_id, ord)
          JOIN crm.leads AS l ON l.lead_id = i.lead_id);
END
$$;
COMMENT ON FUNCTION crm.lead_summaries(uuid[]) IS
    'The list items (LeadSummary) of the given leads in the given order; reads as the caller.';

-- api.list_leads(filters, sort, limit, cursor): one page of leads, {"items": [...], "next": cursor or null}.
-- filters (all optional, as the API normalised them): status (a list), active (bool), source, agent_id,
-- score_min, score_max, created_from, created_to (instants), language, property_type, area, queued (bool),
-- duplicate (bool), q (text: name or e-mail substring, any script, served by the trigram index), phone (E.164,
-- exact). sort: created | score | last_activity | next_follow_up, with "-" for descending (default -created);
-- ties go by lead_id, so the order is total and a cursor resumes exactly after its row (keyset: no OFFSET).
-- A lead without a last activity or an open follow-up sorts last by those keys.
-- Errors: PT422 invalid_sort, PT422 invalid_cursor (including a cursor of another sort), PT422 invalid_filter.
CREATE OR REPLACE FUNCTION api.list_leads(p_filters jsonb DEFAULT '{}', p_sort text DEFAULT '-created',
                                          p_limit integer DEFAULT 50, p_cursor text DEFAULT NULL)
RETURNS json
LANGUAGE plpgsql
STABLE
SECURITY INVOKER  -- reads through the caller's row-level security
SET search_path = ''
AS $$
DECLARE
    v_desc   boolean := left(p_sort, 1) = '-';
    v_sort   text := ltrim(p_sort, '-');
    v_key    text;
    v_after  jsonb := crm.decode_cursor(p_cursor);
    v_limit  integer := crm.page_limit(p_limit);
    v_where  text;
    v_ids    uuid[];
    v_last   jsonb;
    v_count  integer;
BEGIN
    PERFORM crm.authorize('read_leads');
    -- the sort key as an expression over l (crm.leads): each whitelisted, never the caller's text
    v_key := CASE v_sort
        WHEN 'created' THEN 'l.created_at'
        WHEN 'score' THEN 'l.score'
        WHEN 'last_activity' THEN 'coalesce(l.last_activity_at, ' || CASE WHEN v_desc THEN '''-infinity''' ELSE '''infinity''' END || '::timestamptz)'
        WHEN 'next_follow_up' THEN '(SELECT coalesce(min(t.due_at), ' || CASE WHEN v_desc THEN '''-infinity''' ELSE '''infinity''' END
                                   || '::timestamptz) FROM crm.follow_up_tasks AS t WHERE t.lead_id = l.lead_id AND t.status = ''open'')'
    END;
    IF v_key IS NULL THEN
        RAISE EXCEPTION 'sort must be created, score, last_activity or next_follow_up (with - for descending)'
            USING ERRCODE = 'PT422', CONSTRAINT = 'invalid_sort';
    END IF;
    IF v_after IS NOT NULL AND (v_after ->> 's' IS DISTINCT FROM p_sort OR v_after ->> 'id' IS NULL) THEN
        RAISE EXCEPTION 'the cursor belongs to another sort' USING ERRCODE = 'PT422', CONSTRAINT = 'invalid_cursor';
    END IF;
    IF p_filters ? 'status' AND EXISTS (
           SELECT 1 FROM pg_catalog.jsonb_array_elements_text(p_filters -> 'status') AS s (v)
            WHERE s.v NOT IN (SELECT e::text FROM pg_catalog.unnest(pg_catalog.enum_range(NULL::crm.lead_status)) AS e)) THEN
        RAISE EXCEPTION 'status must be one of the pipeline''s statuses' USING ERRCODE = 'PT422', CONSTRAINT = 'invalid_filter';
    END IF;

    -- the conditions of the filters present only (each a fixed text of ours; the values stay bound parameters),
    -- planned at each call (EXECUTE); a filter in an OR with a constant would keep the planner from its index. An
    -- agent's leads are looked up by primary key from their open assignments: an equality on uuids, which
    -- row-level security lets an index use (it does not let a non-leakproof condition such as crm.is_closed)
    SELECT coalesce(pg_catalog.string_agg(c.cond, ' AND ' ORDER BY c.ord), 'true')
      INTO v_where
      FROM (VALUES
        (1, 'status', $c$l.status::text IN (SELECT pg_catalog.jsonb_array_elements_text($1 -> 'status'))$c$),
        (2, 'active', $c$crm.is_closed(l.status) <> ($1 ->> 'active')::boolean$c$),
        (3, 'source', $c$l.source_type = $1 ->> 'source'$c$),
        (4, 'agent_id', $c$l.lead_id = ANY (ARRAY(SELECT a.lead_id FROM crm.lead_assignments AS a
                                                   WHERE a.released_at IS NULL AND a.agent_id = ($1 ->> 'agent_id')::uuid))$c$),
        (5, 'score_min', $c$l.score >= ($1 ->> 'score_min')::integer$c$),
        (6, 'score_max', $c$l.score <= ($1 ->> 'score_max')::integer$c$),
        (7, 'created_from', $c$l.created_at >= ($1 ->> 'created_from')::timestamptz$c$),
        (8, 'created_to', $c$l.created_at < ($1 ->> 'created_to')::timestamptz$c$),
        (9, 'language', $c$l.language_preference = $1 ->> 'language'$c$),
        (10, 'property_type', $c$l.property_type::text = $1 ->> 'property_type'$c$),
        (11, 'area', $c$l.lead_id IN (SELECT p.lead_id FROM crm.lead_preferred_areas AS p WHERE p.area_code = $1 ->> 'area')$c$),
        (12, 'queued', $c$(l.queued_at IS NOT NULL) = ($1 ->> 'queued')::boolean$c$),
        (13, 'duplicate', $c$(l.duplicate_of IS NOT NULL) = ($1 ->> 'duplicate')::boolean$c$),
        (14, 'phone', $c$l.phone = $1 ->> 'phone'$c$),
        (15, 'q', $c$pg_catalog.lower(l.first_name::text || ' ' || l.last_name::text || ' ' || coalesce(l.email::text, ''))
                     LIKE '%' || pg_catalog.lower(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(
                          $1 ->> 'q', '\', '\\'), '%', '\%'), '_', '\_')) || '%'$c$)
      ) AS c (ord, name, cond)
     WHERE p_filters ->> c.name IS NOT NULL;
    EXECUTE pg_catalog.format($q$
        WITH page AS (
            SELECT l.lead_id, %1$s AS sort_key
              FROM crm.leads AS l
             WHERE %6$s
               AND ($2 IS NULL OR (%1$s, l.lead_id) %2$s (($2 ->> 'k')::%3$s, ($2 ->> 'id')::uuid))
             ORDER BY %1$s %4$s, l.lead_id %4$s
             LIMIT $3
        )
        SELECT pg_catalog.array_agg(p.lead_id ORDER BY p.sort_key %4$s, p.lead_id %4$s),
               (SELECT pg_catalog.jsonb_build_object('k', x.sort_key, 'id', x.lead_id)
                  FROM page AS x ORDER BY x.sort_key %5$s, x.lead_id %5$s LIMIT 1),
               count(*)
          FROM page AS p
        $q$, v_key, CASE WHEN v_desc THEN '<' ELSE '>' END,
             CASE v_sort WHEN 'score' THEN 'integer' ELSE 'timestamptz' END,
             CASE WHEN v_desc THEN 'DESC' ELSE 'ASC' END, CASE WHEN v_desc THEN 'ASC' ELSE 'DESC' END, v_where)
      INTO v_ids, v_last, v_count
     USING coalesce(p_filters, '{}'), v_after, v_limit;
    RETURN pg_catalog.json_build_object(
        'items', crm.lead_summaries(v_ids),
        'next', CASE WHEN v_count = v_limit THEN crm.encode_cursor(v_last || pg_catalog.jsonb_build_object('s', p_sort)) END);
EXCEPTION
    WHEN invalid_text_representation OR datetime_field_overflow OR invalid_datetime_format OR numeric_value_out_of_range THEN
        RAISE EXCEPTION 'a filter or the cursor has a value of the wrong kind' USING ERRCODE = 'PT422', CONSTRAINT = 'invalid_filter';
END
$$;
COMMENT ON FUNCTION api.list_leads(jsonb, text, integer, text) IS
    'GET /api/v1/leads: one keyset page ({"items", "next"}) of the leads the caller may see, filtered, sorted and '
    'searched (name or e-mail substring by trigram index, phone exact). Errors: PT422 invalid_sort, invalid_cursor, '
    'invalid_filter; crm.authorize''s. SECURITY INVOKER: row-level security decides which leads exist for the caller.';

-- api.lead_timeline(lead, limit, cursor): the lead's story in time order, one page {"items", "next"}: status
-- changes, activities (with their score change and its rules), assignments and releases (with reasons), follow-ups
-- created, completed, cancelled and escalated. Each item: {at, kind, id, agent_id, details}. An agent caller sees
-- their own assignment rows (row-level security), and every activity and status change of the lead.
-- Errors: PT404 lead_not_found, PT422 invalid_cursor; crm.authorize's.
CREATE OR REPLACE FUNCTION api.lead_timeline(p_lead_id uuid, p_limit integer DEFAULT 50, p_cursor text DEFAULT NULL)
RETURNS json
LANGUAGE plpgsql
STABLE
SECURITY INVOKER  -- reads through the caller's row-level security
SET search_path = ''
AS $$
DECLARE
    v_after jsonb := crm.decode_cursor(p_cursor);
    v_limit integer := crm.page_limit(p_limit);
    v_rows  json;
    v_last  jsonb;
    v_count integer;
BEGIN
    PERFORM crm.authorize('read_leads', NULL, p_lead_id);
    IF NOT EXISTS (SELECT 1 FROM crm.leads AS l WHERE l.lead_id = p_lead_id) THEN
        RAISE EXCEPTION 'lead % not found', p_lead_id USING ERRCODE = 'PT404', CONSTRAINT = 'lead_not_found';
    END IF;
    WITH events (at, kind, id, agent_id, details) AS (
        SELECT h.changed_at, 'status_changed', 'status:' || h.history_id, h.agent_id,
               pg_catalog.jsonb_build_object('from', h.from_status, 'to', h.to_status, 'by', h.changed_by, 'note', h.note)
          FROM crm.lead_conversion_history AS h WHERE h.lead_id = p_lead_id
        UNION ALL
        SELECT v.occurred_at, 'activity', 'activity:' || v.activity_id, v.agent_id,
               pg_catalog.jsonb_build_object('type', v.activity_type, 'outcome', v.outcome, 'notes', v.notes,
                                             'score_delta', v.score_delta, 'score_rules', v.details -> 'rules',
                                             'by', v.created_by)
          FROM crm.lead_activities AS v WHERE v.lead_id = p_lead_id
        UNION ALL
        SELECT a.assigned_at, 'assigned', 'assigned:' || a.assignment_id, a.agent_id,
               pg_catalog.jsonb_build_object('kind', a.kind, 'reason', a.reason)
          FROM crm.lead_assignments AS a WHERE a.lead_id = p_lead_id
        UNION ALL
        SELECT a.released_at, 'released', 'released:' || a.assignment_id, a.agent_id,
               pg_catalog.jsonb_build_object('reason', a.release_reason)
          FROM crm.lead_assignments AS a WHERE a.lead_id = p_lead_id AND a.released_at IS NOT NULL
        UNION ALL
        SELECT t.created_at, 'follow_up_created', 'follow_up:' || t.task_id, t.agent_id,
               pg_catalog.jsonb_build_object('task_id', t.task_id, 'task_type', t.task_type, 'priority', t.priority,
                                             'due_at', t.due_at)
          FROM crm.follow_up_tasks AS t WHERE t.lead_id = p_lead_id
        UNION ALL
        SELECT t.completed_at, 'follow_up_' || CASE t.status WHEN 'done' THEN 'completed' ELSE 'cancelled' END,
               'follow_up_closed:' || t.task_id, t.agent_id,
               pg_catalog.jsonb_build_object('task_id', t.task_id, 'notes', t.notes)
          FROM crm.follow_up_tasks AS t WHERE t.lead_id = p_lead_id AND t.status <> 'open'
        UNION ALL
        SELECT t.escalated_at, 'follow_up_escalated', 'follow_up_escalated:' || t.task_id, t.agent_id,
               pg_catalog.jsonb_build_object('task_id', t.task_id, 'escalated_to', t.escalated_to)
          FROM crm.follow_up_tasks AS t WHERE t.lead_id = p_lead_id AND t.escalated_at IS NOT NULL
    ),
    page AS (
        SELECT * FROM events AS e
         WHERE v_after IS NULL OR (e.at, e.id) > ((v_after ->> 'at')::timestamptz, v_after ->> 'id')
         ORDER BY e.at, e.id
         LIMIT v_limit
    )
    SELECT coalesce(pg_catalog.json_agg(pg_catalog.json_build_object(
               'at', p.at, 'kind', p.kind, 'id', p.id, 'agent_id', p.agent_id, 'details', p.details)
               ORDER BY p.at, p.id), '[]'::json),
           (SELECT pg_catalog.jsonb_build_object('at', x.at, 'id', x.id) FROM page AS x ORDER BY x.at DESC, x.id DESC LIMIT 1),
           count(*)
      INTO v_rows, v_last, v_count
      FROM page AS p;
    RETURN pg_catalog.json_build_object('items', v_rows,
                                        'next', CASE WHEN v_count = v_limit THEN crm.encode_cursor(v_last) END);
EXCEPTION
    WHEN invalid_text_representation OR datetime_field_overflow OR invalid_datetime_format THEN
        RAISE EXCEPTION 'the cursor is not one this list gave out' USING ERRCODE = 'PT422', CONSTRAINT = 'invalid_cursor';
END
$$;
COMMENT ON FUNCTION api.lead_timeline(uuid, integer, text) IS
    'GET /api/v1/leads/{id}/timeline: status changes, activities (with score changes and their rules), assignments, '
    'releases and follow-ups in time order, one keyset page. Errors: PT404 lead_not_found, PT422 invalid_cursor; '
    'crm.authorize''s. SECURITY INVOKER: row-level security decides what the caller sees.';

-- api.patch_lead(lead, changes, version, actor): corrects the contact fields and wishes of a lead, if the caller's
-- copy is current: p_version is the ETag it read (If-Match). changes (as the API normalised them): first_name,
-- last_name, email, phone (E.164; same phone and source as another lead is leads_source_phone_key, 409),
-- nationality, language_preference (mapped as at capture; unknown is 422), budget_min, budget_max, property_type,
-- preferred_areas (replaces the list; unknown areas are 422). Status moves only through api.update_lead; the
-- score is not recomputed (the capture score stays that of the inputs captured; docs/api.md). Audited by the
-- leads_audit trigger. Returns the lead resource.
-- Errors: PT428 precondition_required (no version), PT412 lead_version_mismatch (DETAIL: the current version),
-- PT404 lead_not_found, PT422 unknown_language, unknown_nationality, unknown_area; constraint violations.
CREATE OR REPLACE FUNCTION api.patch_lead(p_lead_id uuid, p_changes jsonb, p_version integer, p_actor text)
RETURNS json
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = ''
AS $$
DECLARE
    v_lead     crm.leads;
    v_language text;
    v_country  char(2);
    v_areas    text[];
    v_unknown  text[];
    v_moved    integer := 0;
    v_added    integer := 0;
BEGIN
    PERFORM crm.authorize('edit_lead', NULL, p_lead_id);
    PERFORM crm.set_actor(p_actor);
    IF p_version IS NULL THEN
        RAISE EXCEPTION 'send the lead''s ETag in If-Match: a correction applies to the version it was made on'
            USING ERRCODE = 'PT428', CONSTRAINT = 'precondition_required';
    END IF;
    v_lead := crm.lock_lead(p_lead_id);
    IF v_lead.version <> p_version THEN
        RAISE EXCEPTION 'lead % changed since version % (it is at version %)', p_lead_id, p_version, v_lead.version
            USING ERRCODE = 'PT412', CONSTRAINT = 'lead_version_mismatch',
                  DETAIL = pg_catalog.json_build_object('version', v_lead.version)::text;
    END IF;
    IF p_changes ? 'language_preference' AND p_changes ->> 'language_preference' IS NOT NULL THEN
        v_language := crm.language_key(p_changes ->> 'language_preference');
        IF v_language IS NULL THEN
            RAISE EXCEPTION 'language "%" is not one we route on', p_changes ->> 'language_preference'
                USING ERRCODE = 'PT422', CONSTRAINT = 'unknown_language';
        END IF;
    END IF;
    IF p_changes ? 'nationality' AND p_changes ->> 'nationality' IS NOT NULL THEN
        v_country := crm.country_code(p_changes ->> 'nationality');
        IF v_country IS NULL THEN
            RAISE EXCEPTION 'nationality "%" is not a known country', p_changes ->> 'nationality'
                USING ERRCODE = 'PT422', CONSTRAINT = 'unknown_nationality';
        END IF;
    END IF;
    IF p_changes ? 'preferred_areas' THEN
        SELECT pg_catalog.array_agg(DISTINCT crm.area_code(x.v)) FILTER (WHERE crm.area_code(x.v) IS NOT NULL),
               pg_catalog.array_agg(x.v) FILTER (WHERE crm.area_code(x.v) IS NULL)
          INTO v_areas, v_unknown
          FROM pg_catalog.jsonb_array_elements_text(coalesce(p_changes -> 'preferred_areas', '[]')) AS x (v);
        IF v_unknown IS NOT NULL THEN
            RAISE EXCEPTION 'not a known Dubai area: %', pg_catalog.array_to_string(v_unknown, ', ') USING ERRCODE = 'PT422', CONSTRAINT = 'unknown_area';
        END IF;
        DELETE FROM crm.lead_preferred_areas AS p WHERE p.lead_id = p_lead_id AND p.area_code <> ALL (coalesce(v_areas, '{}'));
        GET DIAGNOSTICS v_moved = ROW_COUNT;
        INSERT INTO crm.lead_preferred_areas (lead_id, area_code)
        SELECT p_lead_id, pg_catalog.unnest(coalesce(v_areas, '{}')) ON CONFLICT DO NOTHING;
        GET DIAGNOSTICS v_added = ROW_COUNT;
    END IF;
    UPDATE crm.leads AS l SET
        first_name = CASE WHEN p_changes ? 'first_name' THEN p_changes ->> 'first_name' ELSE l.first_name END,
        last_name = CASE WHEN p_changes ? 'last_name' THEN p_changes ->> 'last_name' ELSE l.last_name END,
        email = CASE WHEN p_changes ? 'email' THEN p_changes ->> 'email' ELSE l.email END,
        phone = CASE WHEN p_changes ? 'phone' THEN p_changes ->> 'phone' ELSE l.phone END,
        nationality = CASE WHEN p_changes ? 'nationality' THEN v_country ELSE l.nationality END,
        language_preference = CASE WHEN p_changes ? 'language_preference' THEN v_language ELSE l.language_preference END,
        budget_min = CASE WHEN p_changes ? 'budget_min' THEN (p_changes ->> 'budget_min')::numeric ELSE l.budget_min END,
        budget_max = CASE WHEN p_changes ? 'budget_max' THEN (p_changes ->> 'budget_max')::numeric ELSE l.budget_max END,
        property_type = CASE WHEN p_changes ? 'property_type' THEN (p_changes ->> 'property_type')::crm.property_type
                             ELSE l.property_type END,
        version = l.version + CASE WHEN v_moved + v_added > 0 THEN 1 ELSE 0 END   -- the areas are part of the lead
     WHERE l.lead_id = p_lead_id;
    RETURN crm.lead_resource(p_lead_id);
END
$$;
COMMENT ON FUNCTION api.patch_lead(uuid, jsonb, integer, text) IS
    'PATCH /api/v1/leads/{id}: corrects contact fields and wishes when p_version (If-Match) is the lead''s version. '
    'Errors: PT428 precondition_required, PT412 lead_version_mismatch, PT404 lead_not_found, PT422 unknown_language, '
    'unknown_nationality, unknown_area; constraint violations (leads_source_phone_key 409, ...); crm.authorize''s. '
    'SECURITY DEFINER: writes the lead and its areas for a caller the matrix allowed on that lead.';
