-- Follow-ups as a REST resource: GET /api/v1/follow-ups, POST /api/v1/follow-ups/{id}/complete | reschedule | cancel.
-- An agent caller lists and changes their own follow-ups; supervisors and admins anyone's.

-- crm.follow_up_resource(task): one follow-up as json (the API's FollowUpItem order).
DROP FUNCTION IF EXISTS crm.follow_up_resource(crm.follow_up_tasks, timestamptz);
CREATE OR REPLACE FUNCTION crm.follow_up_resource(p_task crm.follow_up_tasks, p_now timestamptz,
                                                  p_activity jsonb DEFAULT NULL)
RETURNS json
LANGUAGE plpgsql
STABLE
SET search_path = ''
AS $$
BEGIN
    RETURN pg_catalog.json_build_object(
        'task_id', p_task.task_id, 'lead_id', p_task.lead_id,
        'lead_name', (SELECT l.first_name || ' ' || l.last_name FROM crm.leads AS l WHERE l.lead_id = p_task.lead_id),
        'agent_id', p_task.agent_id, 'task_type', p_task.task_type, 'priority', p_task.priority,
        'status', p_task.status, 'due_at', p_task.due_at, 'ends_at', p_task.ends_at,
        'overdue', p_task.status = 'open' AND p_task.due_at < p_now,
        'escalated_at', p_task.escalated_at, 'escalated_to', p_task.escalated_to,
        'completed_at', p_task.completed_at, 'notes', p_task.notes, 'activity', p_activity);
END
$$;
COMMENT ON FUNCTION crm.follow_up_resource(crm.follow_up_tasks, timestamptz, jsonb) IS
    'One follow-up as the API shows it: task, lead (and name), agent, type, priority, status, slot, overdue flag, '
    'escalation, completion, notes, and the activity a completion logged (else null).';

-- api.list_follow_ups(filters, limit, cursor): one page {"items", "next"} of the follow-ups the caller may see, by
-- due time then id. filters: agent_id, lead_id, status (open | done | cancelled), due_from, due_to, overdue (bool),
-- escalated (bool). Errors: PT422 invalid_filter, PT422 invalid_cursor; crm.authorize's.
CREATE OR REPLACE FUNCTION api.list_follow_ups(p_filters jsonb DEFAULT '{}', p_limit integer DEFAULT 50,
                                               p_cursor text DEFAULT NULL)
RETURNS json
LANGUAGE plpgsql
STABLE
SECURITY INVOKER  -- reads through the caller's row-level security
SET search_path = ''
AS $$
DECLARE
    v_after jsonb := crm.decode_cursor(p_cursor);
    v_limit integer := crm.page_limit(p_limit);
    v_now   timestamptz := now();
    v_rows  json;
    v_last  jsonb;
    v_count integer;
BEGIN
    PERFORM crm.authorize('follow_ups', (p_filters ->> 'agent_id')::uuid);
    EXECUTE $q$
        WITH page AS (
            SELECT t.* FROM crm.follow_up_tasks AS t
             WHERE ($1 ->> 'agent_id' IS NULL OR t.agent_id = ($1 ->> 'agent_id')::uuid)
               AND ($1 ->> 'lead_id' IS NULL OR t.lead_id = ($1 ->> 'lead_id')::uuid)
               AND ($1 ->> 'status' IS NULL OR t.status = ($1 ->> 'status')::crm.task_status)
               AND ($1 ->> 'due_from' IS NULL OR t.due_at >= ($1 ->> 'due_from')::timestamptz)
               AND ($1 ->> 'due_to' IS NULL OR t.due_at < ($1 ->> 'due_to')::timestamptz)
               AND ($1 ->> 'overdue' IS NULL OR (t.status = 'open' AND t.due_at < $4) = ($1 ->> 'overdue')::boolean)
               AND ($1 ->> 'escalated' IS NULL OR (t.escalated_at IS NOT NULL) = ($1 ->> 'escalated')::boolean)
               AND ($2 IS NULL OR (t.due_at, t.task_id) > (($2 ->> 'k')::timestamptz, ($2 ->> 'id')::uuid))
             ORDER BY t.due_at, t.task_id
             LIMIT $3
        )
        SELECT coalesce(pg_catalog.json_agg(crm.follow_up_resource(p, $4) ORDER BY p.due_at, p.task_id), '[]'::json),
               (SELECT pg_catalog.jsonb_build_object('k', x.due_at, 'id', x.task_id)
                  FROM page AS x ORDER BY x.due_at DESC, x.task_id DESC LIMIT 1),
               count(*)
          FROM page AS p
        $q$
      INTO v_rows, v_last, v_count
     USING coalesce(p_filters, '{}'), v_after, v_limit, v_now;
    RETURN pg_catalog.json_build_object('items', v_rows,
                                        'next', CASE WHEN v_count = v_limit THEN crm.encode_cursor(v_last) END);
EXCEPTION
    WHEN invalid_text_representation OR datetime_field_overflow OR invalid_datetime_format THEN
        RAISE EXCEPTION 'a filter or the cursor has a value of the wrong kind' USING ERRCODE = 'PT422', CONSTRAINT = 'invalid_filter';
END
$$;
COMMENT ON FUNCTION api.list_follow_ups(jsonb, integer, text) IS
    'GET /api/v1/follow-ups: one keyset page of follow-ups by due time. Errors: PT422 invalid_filter, invalid_cursor; '
    'crm.authorize''s (an agent key asking for another agent: PT403). SECURITY INVOKER: row-level security shows an '
    'agent only their own.';

-- crm.lock_follow_up(task): the open follow-up, row-locked, once the caller may change it (its agent, or a
-- supervisor). Errors: PT404 follow_up_not_found (also another agent's, for an agent key), PT409
-- follow_up_task_closed (done or cancelled).
CREATE OR REPLACE FUNCTION crm.lock_follow_up(p_task_id uuid)
RETURNS crm.follow_up_tasks
LANGUAGE plpgsql
SET search_path = ''
AS $$
DECLARE
    v_task crm.follow_up_tasks;
BEGIN
    SELECT * INTO v_task FROM crm.follow_up_tasks AS t WHERE t.task_id = p_task_id FOR UPDATE;
    IF NOT FOUND OR (crm.caller_role() = 'agent' AND v_task.agent_id IS DISTINCT FROM crm.caller_agent_id()) THEN
        RAISE EXCEPTION 'follow-up % not found', p_task_id USING ERRCODE = 'PT404', CONSTRAINT = 'follow_up_not_found';
    END IF;
    PERFORM crm.authorize('follow_ups', v_task.agent_id);
    IF v_task.status <> 'open' THEN
        RAISE EXCEPTION 'follow-up % is % and cannot be changed', p_task_id, v_task.status
            USING ERRCODE = 'PT409', CONSTRAINT = 'follow_up_task_closed';
    END IF;
    RETURN v_task;
END
$$;
COMMENT ON FUNCTION crm.lock_follow_up(uuid) IS
    'The open follow-up the caller may change, locked. Errors: PT404 follow_up_not_found, PT409 follow_up_task_closed; '
    'crm.authorize''s.';

-- api.complete_follow_up(task, input, actor): marks the follow-up done; with an outcome, the contact it was is
-- logged as an activity of its type on the lead (scored as any activity: crm.record_activity).
-- input: {"outcome": positive | negative | neutral, "notes"}. Returns the follow-up (and "activity" when logged).
-- Errors: crm.lock_follow_up's, crm.record_activity's.
CREATE OR REPLACE FUNCTION api.complete_follow_up(p_task_id uuid, p_input jsonb, p_actor text)
RETURNS json
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = ''
AS $$
DECLARE
    v_task     crm.follow_up_tasks;
    v_activity jsonb;
BEGIN
    PERFORM crm.authorize('follow_ups');
    PERFORM crm.set_actor(p_actor);
    v_task := crm.lock_follow_up(p_task_id);
    UPDATE crm.follow_up_tasks AS t
       SET status = 'done', completed_at = now(),
           notes = CASE WHEN p_input ->> 'notes' IS NULL THEN t.notes ELSE coalesce(t.notes || ' ', '') || (p_input ->> 'notes') END
     WHERE t.task_id = p_task_id
    RETURNING * INTO v_task;
    IF p_input ->> 'outcome' IS NOT NULL THEN
        v_activity := crm.record_activity(crm.lock_lead(v_task.lead_id), v_task.agent_id,
                                          pg_catalog.jsonb_build_object('type', v_task.task_type::text,
                                              'outcome', p_input ->> 'outcome', 'notes', p_input ->> 'notes'),
                                          now());
    END IF;
    RETURN crm.follow_up_resource(v_task, now(), v_activity);
END
$$;
COMMENT ON FUNCTION api.complete_follow_up(uuid, jsonb, text) IS
    'POST /api/v1/follow-ups/{id}/complete: done, and with an outcome an activity of its type on the lead. Errors: '
    'crm.lock_follow_up''s, crm.record_activity''s; crm.authorize''s. SECURITY DEFINER: writes the task, the activity '
    'and the score for a caller allowed on that follow-up.';

-- api.reschedule_follow_up(task, at, actor): moves the follow-up to another slot of its agent, checked as a new
-- booking is (crm.check_follow_up_slot, its own slot aside). Errors: crm.lock_follow_up's, PT422
-- follow_up_in_past, PT422 follow_up_too_far, PT409 follow_up_conflict (DETAIL: next_free_slot).
CREATE OR REPLACE FUNCTION api.reschedule_follow_up(p_task_id uuid, p_at timestamptz, p_actor text)
RETURNS json
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = ''
AS $$
DECLARE
    v_task crm.follow_up_tasks;
BEGIN
    PERFORM crm.authorize('follow_ups');
    PERFORM crm.set_actor(p_actor);
    v_task := crm.lock_follow_up(p_task_id);
    PERFORM crm.check_follow_up_slot(v_task.agent_id, p_at, v_task.ends_at - v_task.due_at, now(), v_task.task_id);
    UPDATE crm.follow_up_tasks SET due_at = p_at WHERE task_id = p_task_id RETURNING * INTO v_task;
    RETURN crm.follow_up_resource(v_task, now());
END
$$;
COMMENT ON FUNCTION api.reschedule_follow_up(uuid, timestamptz, text) IS
    'POST /api/v1/follow-ups/{id}/reschedule: the same follow-up at another free slot of its agent. Errors: '
    'crm.lock_follow_up''s, follow_up_in_past, follow_up_too_far, follow_up_conflict; crm.authorize''s. SECURITY '
    'DEFINER: checks the agent''s whole calendar for a caller allowed on that follow-up.';

-- api.cancel_follow_up(task, reason, actor): cancels the follow-up with its reason (kept in its notes).
-- Errors: crm.lock_follow_up's.
CREATE OR REPLACE FUNCTION api.cancel_follow_up(p_task_id uuid, p_reason text, p_actor text)
RETURNS json
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = ''
AS $$
DECLARE
    v_task crm.follow_up_tasks;
BEGIN
    PERFORM crm.authorize('follow_ups');
    PERFORM crm.set_actor(p_actor);
    v_task := crm.lock_follow_up(p_task_id);
    UPDATE crm.follow_up_tasks AS t
       SET status = 'cancelled', completed_at = now(), notes = coalesce(t.notes || ' ', '') || '(cancelled: ' || p_reason || ')'
     WHERE t.task_id = p_task_id
    RETURNING * INTO v_task;
    RETURN crm.follow_up_resource(v_task, now());
END
$$;
COMMENT ON FUNCTION api.cancel_follow_up(uuid, text, text) IS
    'POST /api/v1/follow-ups/{id}/cancel: cancelled, with the reason in its notes. Errors: crm.lock_follow_up''s; '
    'crm.authorize''s. SECURITY DEFINER: writes the task for a caller allowed on it.';
