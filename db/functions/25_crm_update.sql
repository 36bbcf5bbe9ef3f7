-- A lead update, step by step: the functions api.update_lead (35_api_update.sql) calls in order. Each takes the
-- lead already locked by the entry point, names the errors it raises and returns its part of "changes";
-- tests/db/test_update_steps.py tests each alone. None authorizes (the entry point has).

-- crm.record_activity(lead, agent, activity, now): logs an agent's activity on the lead and scores it (the first
-- interaction also scores the response time). Returns {"activity_id", "score": {"from", "to", "delta", "rules"}}.
-- Errors: PT409 lead_has_no_agent (the lead waits in the queue: nobody can have acted on it).
CREATE OR REPLACE FUNCTION crm.record_activity(p_lead crm.leads, p_agent_id uuid, p_activity jsonb, p_now timestamptz)
RETURNS jsonb
LANGUAGE plpgsql
SET search_path = ''
AS $$
DECLARE
    v_type     crm.activity_type := (p_activity ->> 'type')::crm.activity_type;
    v_outcome  crm.activity_outcome := (p_activity ->> 'outcome')::crm.activity_outcome;
    v_points   jsonb;
    v_delta    integer;
    v_activity uuid;
BEGIN
    IF p_agent_id IS NULL THEN
        RAISE EXCEPTION 'lead % is waiting for an agent; nobody can log an activity on it yet', p_lead.lead_id
            USING ERRCODE = 'PT409', CONSTRAINT = 'lead_has_no_agent',
                  DETAIL = pg_catalog.json_build_object('lead_id', p_lead.lead_id)::text;
    END IF;
    v_points := crm.activity_points(
        v_type, v_outcome,
        CASE WHEN p_lead.first_contacted_at IS NULL AND crm.is_agent_interaction(v_type)
             THEN greatest(0, extract(epoch FROM p_now - p_lead.created_at))::integer END);
    v_delta := crm.adjust_score(p_lead.lead_id, (v_points ->> 'points')::integer);
    INSERT INTO crm.lead_activities (lead_id, agent_id, activity_type, outcome, notes, score_delta, details, occurred_at)
    VALUES (p_lead.lead_id, p_agent_id, v_type, v_outcome, p_activity ->> 'notes', v_delta,
            pg_catalog.jsonb_build_object('rules', v_points -> 'rules'), p_now)
    RETURNING activity_id INTO v_activity;
    RETURN pg_catalog.jsonb_build_object(
        'activity_id', v_activity,
        'score', pg_catalog.jsonb_build_object('from', p_lead.score, 'to', p_lead.score + v_delta, 'delta', v_delta,
                                               'rules', v_points -> 'rules'));
END
$$;
COMMENT ON FUNCTION crm.record_activity(crm.leads, uuid, jsonb, timestamptz) IS
    'Update step: the activity row, scored by crm.activity_points and clamped by crm.adjust_score. Errors: PT409 '
    'lead_has_no_agent.';

-- crm.log_activity(lead, agent, activity, now): crm.record_activity, then the follow-up the activity fulfils.
-- Returns {"activity_id", "score", "completed_follow_up"}. Errors: crm.record_activity's.
CREATE OR REPLACE FUNCTION crm.log_activity(p_lead crm.leads, p_agent_id uuid, p_activity jsonb, p_now timestamptz)
RETURNS jsonb
LANGUAGE plpgsql
SET search_path = ''
AS $$
BEGIN
    RETURN crm.record_activity(p_lead, p_agent_id, p_activity, p_now)
           || pg_catalog.jsonb_build_object('completed_follow_up',
                  crm.fulfil_follow_up(p_lead.lead_id, (p_activity ->> 'type')::crm.activity_type, p_now));
END
$$;
COMMENT ON FUNCTION crm.log_activity(crm.leads, uuid, jsonb, timestamptz) IS
    'Update step: crm.record_activity and the follow-up it fulfils (crm.fulfil_follow_up). Errors: PT409 '
    'lead_has_no_agent.';

-- crm.fulfil_follow_up(lead, activity type, now): an agent interaction completes the lead's next open follow-up
-- when that one is due within the follow_up_fulfil_window setting (a day) or overdue. Returns the task's id, or
-- NULL when none was fulfilled.
CREATE OR REPLACE FUNCTION crm.fulfil_follow_up(p_lead_id uuid, p_type crm.activity_type, p_now timestamptz)
RETURNS uuid
LANGUAGE plpgsql
SET search_path = ''
AS $$
DECLARE
    v_task uuid;
BEGIN
    IF NOT crm.is_agent_interaction(p_type) THEN
        RETURN NULL;
    END IF;
    UPDATE crm.follow_up_tasks SET status = 'done', completed_at = p_now
     WHERE task_id = (SELECT t.task_id FROM crm.follow_up_tasks AS t
                       WHERE t.lead_id = p_lead_id AND t.status = 'open'
                         AND t.due_at <= p_now + crm.setting_interval('follow_up_fulfil_window')
                       ORDER BY t.due_at LIMIT 1)
    RETURNING task_id INTO v_task;
    RETURN v_task;
END
$$;
COMMENT ON FUNCTION crm.fulfil_follow_up(uuid, crm.activity_type, timestamptz) IS
    'Update step: marks done the lead''s earliest open follow-up due within follow_up_fulfil_window (or overdue) when '
    'the activity is an agent interaction; returns its task id or NULL.';

-- crm.book_next_follow_up(lead, agent, activity type, score, at, status after the update, now): the follow-up an
-- activity asks for, conflict-checked on the agent's calendar (crm.book_follow_up). Its type follows the
-- activity (a call when the activity has no task of its kind) and its priority the lead's SLA class.
-- Errors: PT409 lead_closed (the update closes the lead, or it is closed), crm.book_follow_up's.
CREATE OR REPLACE FUNCTION crm.book_next_follow_up(p_lead_id uuid, p_agent_id uuid, p_type crm.activity_type,
                                                   p_score integer, p_at timestamptz, p_status crm.lead_status,
                                                   p_now timestamptz)
RETURNS jsonb
LANGUAGE plpgsql
SET search_path = ''
AS $$
BEGIN
    IF crm.is_closed(p_status) THEN
        RAISE EXCEPTION 'lead % is closed; it takes no new follow-ups', p_lead_id
            USING ERRCODE = 'PT409', CONSTRAINT = 'lead_closed',
                  DETAIL = pg_catalog.json_build_object('lead_id', p_lead_id)::text;
    END IF;
    RETURN crm.book_follow_up(
        p_lead_id, p_agent_id, p_at,
        CASE p_type WHEN 'email' THEN 'email' WHEN 'whatsapp' THEN 'whatsapp' WHEN 'sms' THEN 'sms'
                    WHEN 'viewing' THEN 'viewing' WHEN 'meeting' THEN 'meeting' ELSE 'call' END::crm.task_type,
        (crm.sla_class(p_score) ->> 'priority')::crm.task_priority,
        'Follow-up of a ' || p_type || ' on ' || pg_catalog.to_char(p_now AT TIME ZONE 'UTC', 'YYYY-MM-DD'), p_now);
END
$$;
COMMENT ON FUNCTION crm.book_next_follow_up(uuid, uuid, crm.activity_type, integer, timestamptz, crm.lead_status, timestamptz) IS
    'Update step: books the follow-up an activity asks for (type from the activity, priority from the SLA class of the '
    'score). Errors: PT409 lead_closed; crm.book_follow_up''s (follow_up_conflict, follow_up_in_past, follow_up_too_far).';

-- crm.record_property_interests(lead, interests): one row per (lead, listing), updated in place. Returns how
-- many were given. Errors: PT422 unknown_property (DETAIL names the listing).
CREATE OR REPLACE FUNCTION crm.record_property_interests(p_lead_id uuid, p_interests jsonb)
RETURNS integer
LANGUAGE plpgsql
SET search_path = ''
AS $$
DECLARE
    v_interest jsonb;
    v_count    integer := 0;
BEGIN
    FOR v_interest IN SELECT pg_catalog.jsonb_array_elements(coalesce(p_interests, '[]')) LOOP
        IF NOT EXISTS (SELECT 1 FROM crm.properties AS p WHERE p.property_id = (v_interest ->> 'property_id')::uuid) THEN
            RAISE EXCEPTION 'listing % does not exist', v_interest ->> 'property_id'
                USING ERRCODE = 'PT422', CONSTRAINT = 'unknown_property',
                      DETAIL = pg_catalog.json_build_object('property_id', v_interest ->> 'property_id')::text;
        END IF;
        INSERT INTO crm.lead_property_interests (lead_id, property_id, interest_level)
        VALUES (p_lead_id, (v_interest ->> 'property_id')::uuid, (v_interest ->> 'interest_level')::crm.interest_level)
        ON CONFLICT (lead_id, property_id) DO UPDATE SET interest_level = EXCLUDED.interest_level
         WHERE crm.lead_property_interests.interest_level IS DISTINCT FROM EXCLUDED.interest_level;
        v_count := v_count + 1;
    END LOOP;
    RETURN v_count;
END
$$;
COMMENT ON FUNCTION crm.record_property_interests(uuid, jsonb) IS
    'Update step: upserts the lead''s interest in each listing given; returns their count. Errors: PT422 unknown_property.';

-- crm.move_status(lead, status, lost_reason, deal_value): moves the lead to a new status, with the outcome fields
-- its CHECKs want in the same UPDATE. The trigger leads_20_check_status checks the move; leads_35_cancel_follow_ups
-- cancels a closed lead's open follow-ups. Returns {"from", "to"}, or NULL when the status does not change.
-- Errors: PT409 lead_status_transition, leads_lost_reason_required / leads_deal_value_* (23514).
CREATE OR REPLACE FUNCTION crm.move_status(p_lead crm.leads, p_status crm.lead_status, p_lost_reason text,
                                           p_deal_value numeric)
RETURNS jsonb
LANGUAGE plpgsql
SET search_path = ''
AS $$
BEGIN
    IF p_status IS NULL OR p_status = p_lead.status THEN
        RETURN NULL;
    END IF;
    UPDATE crm.leads
       SET status = p_status,
           lost_reason = CASE WHEN p_status = 'lost' THEN nullif(p_lost_reason, '') END,
           deal_value_aed = CASE WHEN p_status = 'converted' THEN p_deal_value END
     WHERE lead_id = p_lead.lead_id;
    RETURN pg_catalog.jsonb_build_object('from', p_lead.status, 'to', p_status);
END
$$;
COMMENT ON FUNCTION crm.move_status(crm.leads, crm.lead_status, text, numeric) IS
    'Update step: the status change with lost_reason / deal_value; returns {"from", "to"} or NULL when unchanged. '
    'Errors: PT409 lead_status_transition (trigger), 23514 leads_lost_reason_required and leads_deal_value_*.';
