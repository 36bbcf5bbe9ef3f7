-- Lead updates: api.update_lead (PUT /api/v1/leads/{id}/update) and what the answer shows.

-- crm.lead_state(lead): the lead as it stands, for update and reassignment answers.
CREATE OR REPLACE FUNCTION crm.lead_state(p_lead_id uuid)
RETURNS jsonb
LANGUAGE plpgsql
STABLE
SET search_path = ''
AS $$
BEGIN
    RETURN (
        SELECT pg_catalog.jsonb_build_object(
            'lead_id', l.lead_id, 'status', l.status, 'score', l.score,
            'assigned_agent', CASE WHEN g.agent_id IS NOT NULL THEN
                pg_catalog.jsonb_build_object('agent_id', g.agent_id, 'name', g.full_name, 'phone', g.phone) END,
            'queued', l.queued_at IS NOT NULL,
            'next_follow_up', (SELECT pg_catalog.jsonb_build_object('task_id', t.task_id, 'task_type', t.task_type,
                                                                   'priority', t.priority, 'due_at', t.due_at)
                                 FROM crm.follow_up_tasks AS t
                                WHERE t.lead_id = l.lead_id AND t.status = 'open'
                                ORDER BY t.due_at LIMIT 1),
            'first_contacted_at', l.first_contacted_at, 'response_seconds', l.response_seconds,
            'last_activity_at', l.last_activity_at, 'deal_value', l.deal_value_aed, 'lost_reason', l.lost_reason,
            'closed_at', l.closed_at,
            'property_interests', coalesce((SELECT pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
                                                'property_id', i.property_id, 'interest_level', i.interest_level)
                                                ORDER BY i.created_at, i.property_id)
                                              FROM crm.lead_property_interests AS i WHERE i.lead_id = l.lead_id), '[]'),
            'updated_at', l.updated_at)
          FROM crm.leads AS l
          LEFT JOIN crm.lead_assignments AS a ON a.lead_id = l.lead_id AND a.released_at IS NULL
          LEFT JOIN crm.agents AS g ON g.agent_id = a.agent_id
         WHERE l.lead_id = p_lead_id);
END
$$;
COMMENT ON FUNCTION crm.lead_state(uuid) IS
    'The lead as it stands: status, score, current agent, queue flag, next open follow-up, response time, outcome '
    'fields and property interests. The body of update and reassignment answers.';

-- api.update_lead(lead, input, actor, now): PUT /api/v1/leads/{lead_id}/update, all or nothing.
-- p_input (normalised by the API): {"status", "lost_reason", "deal_value",
--   "activity": {"type", "notes", "outcome", "next_follow_up"}, "property_interests": [{"property_id", "interest_level"}]}.
-- Order: the lead row is locked (concurrent updates of one lead run one after the other), the activity is logged
-- and scored (and closes the follow-up it fulfils), the next follow-up is booked, interests are upserted, then the
-- status moves. Returns crm.lead_state plus "changes".
-- Errors: PT404 lead_not_found; PT409 lead_has_no_agent (an activity on a queued lead); PT409 lead_closed
-- (a follow-up on a closed lead); PT422 unknown_property; PT409 follow_up_conflict; PT422 follow_up_in_past;
-- PT409 lead_status_transition (from the trigger); 23514 leads_lost_reason_required / leads_deal_value_* (422).
CREATE OR REPLACE FUNCTION api.update_lead(p_lead_id uuid, p_input jsonb, p_actor text, p_now timestamptz DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = ''
AS $$
DECLARE
    v_now       timestamptz := coalesce(p_now, now());
    v_lead      crm.leads;
    v_agent     uuid;
    v_act       jsonb := p_input -> 'activity';
    v_type      crm.activity_type;
    v_outcome   crm.activity_outcome;
    v_points    jsonb;
    v_delta     integer := 0;
    v_activity  uuid;
    v_done_task uuid;
    v_follow_up jsonb;
    v_status    crm.lead_status := (p_input ->> 'status')::crm.lead_status;
    v_interest  jsonb;
    v_interests integer := 0;
    v_changes   jsonb := '{}';
BEGIN
    PERFORM crm.authorize('update_lead', NULL, p_lead_id);  -- an agent key: only a lead it holds
    PERFORM crm.set_actor(p_actor);
    v_lead := crm.lock_lead(p_lead_id);
    SELECT a.agent_id INTO v_agent FROM crm.lead_assignments AS a WHERE a.lead_id = p_lead_id AND a.released_at IS NULL;

    -- 1. the activity, its score and the follow-up it fulfils
    IF v_act IS NOT NULL THEN
        IF v_agent IS NULL THEN
            RAISE EXCEPTION 'lead % is waiting for an agent; nobody can log an activity on it yet', p_lead_id
                USING ERRCODE = 'PT409', CONSTRAINT = 'lead_has_no_agent';
        END IF;
        v_type := (v_act ->> 'type')::crm.activity_type;
        v_outcome := (v_act ->> 'outcome')::crm.activity_outcome;
        v_points := crm.activity_points(
            v_type, v_outcome,
            CASE WHEN v_lead.first_contacted_at IS NULL AND crm.is_agent_interaction(v_type)
                 THEN greatest(0, extract(epoch FROM v_now - v_lead.created_at))::integer END);
        v_delta := crm.adjust_score(p_lead_id, (v_points ->> 'points')::integer);
        INSERT INTO crm.lead_activities (lead_id, agent_id, activity_type, outcome, notes, score_delta, details, occurred_at)
        VALUES (p_lead_id, v_agent, v_type, v_outcome, v_act ->> 'notes', v_delta,
                pg_catalog.jsonb_build_object('rules', v_points -> 'rules'), v_now)
        RETURNING activity_id INTO v_activity;
        -- an interaction fulfils the lead's next open follow-up when that one is due within the setting
        -- follow_up_fulfil_window (a day) or overdue
        UPDATE crm.follow_up_tasks SET status = 'done', completed_at = v_now
         WHERE task_id = (SELECT t.task_id FROM crm.follow_up_tasks AS t
                           WHERE t.lead_id = p_lead_id AND t.status = 'open'
                             AND t.due_at <= v_now + crm.setting_interval('follow_up_fulfil_window')
                           ORDER BY t.due_at LIMIT 1)
           AND crm.is_agent_interaction(v_type)
        RETURNING task_id INTO v_done_task;
        v_changes := v_changes || pg_catalog.jsonb_build_object(
            'activity_id', v_activity, 'score', pg_catalog.jsonb_build_object(
                'from', v_lead.score, 'to', v_lead.score + v_delta, 'delta', v_delta, 'rules', v_points -> 'rules'),
            'completed_follow_up', v_done_task);

        IF v_act ->> 'next_follow_up' IS NOT NULL THEN
            IF crm.is_closed(coalesce(v_status, v_lead.status)) THEN
                RAISE EXCEPTION 'lead % is closed; it takes no new follow-ups', p_lead_id
                    USING ERRCODE = 'PT409', CONSTRAINT = 'lead_closed';
            END IF;
            v_follow_up := crm.book_follow_up(
                p_lead_id, v_agent, (v_act ->> 'next_follow_up')::timestamptz,
                CASE v_type WHEN 'email' THEN 'email' WHEN 'whatsapp' THEN 'whatsapp' WHEN 'viewing' THEN 'viewing'
                            WHEN 'meeting' THEN 'meeting' ELSE 'call' END::crm.task_type,
                (crm.sla_class(v_lead.score + v_delta) ->> 'priority')::crm.task_priority,
                'Follow-up of a ' || v_type || ' on ' || pg_catalog.to_char(v_now AT TIME ZONE 'UTC', 'YYYY-MM-DD'), v_now);
            v_changes := v_changes || pg_catalog.jsonb_build_object('follow_up', v_follow_up);
        END IF;
    END IF;

    -- 2. property interests: one row per (lead, listing), updated in place
    FOR v_interest IN SELECT pg_catalog.jsonb_array_elements(coalesce(p_input -> 'property_interests', '[]')) LOOP
        IF NOT EXISTS (SELECT 1 FROM crm.properties AS p WHERE p.property_id = (v_interest ->> 'property_id')::uuid) THEN
            RAISE EXCEPTION 'listing % does not exist', v_interest ->> 'property_id'
                USING ERRCODE = 'PT422', CONSTRAINT = 'unknown_property',
                      DETAIL = pg_catalog.json_build_object('property_id', v_interest ->> 'property_id')::text;
        END IF;
        INSERT INTO crm.lead_property_interests (lead_id, property_id, interest_level)
        VALUES (p_lead_id, (v_interest ->> 'property_id')::uuid, (v_interest ->> 'interest_level')::crm.interest_level)
        ON CONFLICT (lead_id, property_id) DO UPDATE SET interest_level = EXCLUDED.interest_level
         WHERE crm.lead_property_interests.interest_level IS DISTINCT FROM EXCLUDED.interest_level;
        v_interests := v_interests + 1;
    END LOOP;
    IF v_interests > 0 THEN
        v_changes := v_changes || pg_catalog.jsonb_build_object('property_interests', v_interests);
    END IF;

    -- 3. the status (the trigger checks the move; the CHECKs want lost_reason / deal_value in the same UPDATE)
    IF v_status IS NOT NULL AND v_status IS DISTINCT FROM v_lead.status THEN
        UPDATE crm.leads
           SET status = v_status,
               lost_reason = CASE WHEN v_status = 'lost' THEN nullif(p_input ->> 'lost_reason', '') END,
               deal_value_aed = CASE WHEN v_status = 'converted' THEN (p_input ->> 'deal_value')::numeric END
         WHERE lead_id = p_lead_id;
        -- (a closed lead's open follow-ups are cancelled by the trigger leads_35_cancel_follow_ups)
        v_changes := v_changes || pg_catalog.jsonb_build_object(
            'status', pg_catalog.jsonb_build_object('from', v_lead.status, 'to', v_status));
    END IF;

    RETURN crm.lead_state(p_lead_id) || pg_catalog.jsonb_build_object('changes', v_changes);
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
