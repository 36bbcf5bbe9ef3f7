-- Lead updates: api.update_lead (PUT /api/v1/leads/{id}/update) and what the answer shows.

-- crm.lead_state(lead, changes, reassignment): the lead as it stands, for update and reassignment answers, as
-- json in the order of the API's LeadState; changes (an update's) and reassignment (a reassignment's) close it.
DROP FUNCTION IF EXISTS crm.lead_state(uuid);
DROP FUNCTION IF EXISTS crm.lead_state(uuid, jsonb, jsonb);
CREATE FUNCTION crm.lead_state(p_lead_id uuid, p_changes jsonb DEFAULT NULL, p_reassignment jsonb DEFAULT NULL)
RETURNS json
LANGUAGE plpgsql
STABLE
SET search_path = ''
AS $$
BEGIN
    RETURN (
        SELECT pg_catalog.json_build_object(
            'lead_id', l.lead_id, 'status', l.status, 'score', l.score,
            'assigned_agent', CASE WHEN g.agent_id IS NOT NULL THEN
                pg_catalog.json_build_object('agent_id', g.agent_id, 'name', g.full_name, 'phone', g.phone) END,
            'queued', l.queued_at IS NOT NULL,
            'next_follow_up', (SELECT pg_catalog.json_build_object('task_id', t.task_id, 'task_type', t.task_type,
                                                                  'priority', t.priority, 'due_at', t.due_at)
                                 FROM crm.follow_up_tasks AS t
                                WHERE t.lead_id = l.lead_id AND t.status = 'open'
                                ORDER BY t.due_at LIMIT 1),
            'first_contacted_at', l.first_contacted_at, 'response_seconds', l.response_seconds,
            'last_activity_at', l.last_activity_at, 'deal_value', l.deal_value_aed, 'lost_reason', l.lost_reason,
            'closed_at', l.closed_at,
            'property_interests', coalesce((SELECT pg_catalog.json_agg(pg_catalog.json_build_object(
                                                'property_id', i.property_id, 'interest_level', i.interest_level)
                                                ORDER BY i.created_at, i.property_id)
                                              FROM crm.lead_property_interests AS i WHERE i.lead_id = l.lead_id),
                                            '[]'::json),
            'updated_at', l.updated_at, 'changes', p_changes, 'reassignment', p_reassignment)
          FROM crm.leads AS l
          LEFT JOIN crm.lead_assignments AS a ON a.lead_id = l.lead_id AND a.released_at IS NULL
          LEFT JOIN crm.agents AS g ON g.agent_id = a.agent_id
         WHERE l.lead_id = p_lead_id);
END
$$;
COMMENT ON FUNCTION crm.lead_state(uuid, jsonb, jsonb) IS
    'The lead as it stands: status, score, current agent, queue flag, next open follow-up, response time, outcome '
    'fields and property interests, then what the request changed. The body of update and reassignment answers.';

-- api.update_lead(lead, input, actor, now): PUT /api/v1/leads/{lead_id}/update, all or nothing.
-- p_input (normalised by the API): {"status", "lost_reason", "deal_value",
--   "activity": {"type", "notes", "outcome", "next_follow_up"}, "property_interests": [{"property_id", "interest_level"}]}.
-- Order: the lead row is locked (concurrent updates of one lead run one after the other), the activity is logged
-- and scored (and closes the follow-up it fulfils), the next follow-up is booked, interests are upserted, then the
-- status moves. Returns crm.lead_state plus "changes".
-- Errors: PT404 lead_not_found; PT409 lead_has_no_agent (an activity on a queued lead); PT409 lead_closed
-- (a follow-up on a closed lead); PT422 unknown_property; PT409 follow_up_conflict; PT422 follow_up_in_past;
-- PT409 lead_status_transition (from the trigger); 23514 leads_lost_reason_required / leads_deal_value_* (422).
DROP FUNCTION IF EXISTS api.update_lead(uuid, jsonb, text, timestamptz);
CREATE FUNCTION api.update_lead(p_lead_id uuid, p_input jsonb, p_actor text, p_now timestamptz DEFAULT NULL)
RETURNS json
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = ''
AS $$
DECLARE
    v_now       timestamptz := coalesce(p_now, now());
    v_activity  jsonb := p_input -> 'activity';
    v_status    crm.lead_status := (p_input ->> 'status')::crm.lead_status;
    v_lead      crm.leads;
    v_agent     uuid;
    v_logged    jsonb;
    v_interests integer;
    v_changes   jsonb := '{}';
BEGIN
    PERFORM crm.authorize('update_lead', NULL, p_lead_id);  -- an agent key: only a lead it holds
    PERFORM crm.set_actor(p_actor);
    v_lead := crm.lock_lead(p_lead_id);   -- concurrent updates of one lead run one after the other
    SELECT a.agent_id INTO v_agent FROM crm.lead_assignments AS a WHERE a.lead_id = p_lead_id AND a.released_at IS NULL;

    -- 1. the activity, its score and the follow-up it fulfils; 2. the next follow-up it asks for
    IF v_activity IS NOT NULL THEN
        v_logged := crm.log_activity(v_lead, v_agent, v_activity, v_now);
        v_changes := v_changes || v_logged;
        IF v_activity ->> 'next_follow_up' IS NOT NULL THEN
            v_changes := v_changes || pg_catalog.jsonb_build_object('follow_up', crm.book_next_follow_up(
                p_lead_id, v_agent, (v_activity ->> 'type')::crm.activity_type, (v_logged #>> '{score,to}')::integer,
                (v_activity ->> 'next_follow_up')::timestamptz, coalesce(v_status, v_lead.status), v_now));
        END IF;
    END IF;
    -- 3. property interests
    v_interests := crm.record_property_interests(p_lead_id, p_input -> 'property_interests');
    IF v_interests > 0 THEN
        v_changes := v_changes || pg_catalog.jsonb_build_object('property_interests', v_interests);
    END IF;
    -- 4. the status, last, so the activity above counts for the lead it was logged on
    IF v_status IS DISTINCT FROM v_lead.status AND v_status IS NOT NULL THEN
        v_changes := v_changes || pg_catalog.jsonb_build_object('status', crm.move_status(
            v_lead, v_status, p_input ->> 'lost_reason', (p_input ->> 'deal_value')::numeric));
    END IF;
    RETURN crm.lead_state(p_lead_id, v_changes);
END
$$;
COMMENT ON FUNCTION api.update_lead(uuid, jsonb, text, timestamptz) IS
    'PUT /api/v1/leads/{id}/update in one transaction: activity (scored, closes the follow-up it fulfils), next '
    'follow-up (conflict-checked), property interests (upserted), status (transition-checked). Returns the lead as it '
    'stands plus "changes". Errors: PT404 lead_not_found, PT409 lead_has_no_agent, PT409 lead_closed, '
    'PT422 unknown_property, PT409 follow_up_conflict, PT422 follow_up_in_past, PT409 lead_status_transition; '
    'crm.authorize''s (an agent key on a lead it does not hold: PT404 lead_not_found). SECURITY DEFINER: closing a lead '
    'frees its agent''s capacity and may hand queued leads to other agents, and the score, history and audit it '
    'writes are the database''s, not the caller''s; crm.authorize checks the caller''s right to the lead first.';
