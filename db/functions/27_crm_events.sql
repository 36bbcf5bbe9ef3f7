-- Events: the transactional outbox. Triggers on the tables that record each change write its event to
-- crm.outbox_events, and crm.emit_event fans it out to the matching webhook subscriptions (crm.webhook_deliveries)
-- in the same transaction: a rolled-back change emits nothing, a committed one always does, and a change made in
-- psql emits what the API's would. The payload of each topic is documented in docs/events.md.
--
-- The triggers are constraint triggers, DEFERRABLE INITIALLY DEFERRED: they fire when the transaction commits, in
-- the order the changes were made, so an event describes its lead as the transaction leaves it (a capture's
-- lead.captured sees the lead's areas, stored after the lead row) and every event of a transaction is written in one
-- burst just before the commit (occurred_at is close to the commit). Their WHEN conditions are evaluated at the
-- change itself, so a change that emits nothing queues nothing.

-- crm.emit_event(topic, lead, agent, data, other agent, actor): one event, and one pending delivery per active
-- subscription that wants it (the topic, and the agent when the subscription names one); a NOTIFY on
-- webhook_delivery wakes the dispatchers when there is any. Nothing while events_enabled is false. The event's actor
-- is p_actor, the actor its row recorded (a lead's created_by, an assignment's assigned_by, a follow-up's
-- created_by), else crm.actor() (which checks the caller's seal again: about 86,000 instructions, docs/benchmarks.md).
-- Returns the event's id (NULL while events are off), which the triggers assign rather than PERFORM the call.
DROP FUNCTION IF EXISTS crm.emit_event(text, uuid, uuid, jsonb, uuid);
DROP FUNCTION IF EXISTS crm.emit_event(text, uuid, uuid, jsonb, uuid, text);
CREATE FUNCTION crm.emit_event(p_topic text, p_lead_id uuid, p_agent_id uuid, p_data jsonb,
                               p_other_agent_id uuid DEFAULT NULL, p_actor text DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = ''
AS $$
DECLARE
    v_event_id bigint;
BEGIN
    IF NOT (crm.setting('events_enabled'))::boolean THEN
        RETURN NULL;
    END IF;
    -- an unknown topic fails loudly (no version: a NOT NULL violation), never emits nothing
    INSERT INTO crm.outbox_events (topic, version, lead_id, agent_id, other_agent_id, data, actor)
    VALUES (p_topic, (SELECT t.version FROM crm.event_topics AS t WHERE t.topic = p_topic), p_lead_id, p_agent_id,
            p_other_agent_id, p_data, coalesce(p_actor, crm.actor()))
    RETURNING event_id INTO v_event_id;
    INSERT INTO crm.webhook_deliveries (subscription_id, event_id, lead_id)
    SELECT s.subscription_id, v_event_id, p_lead_id
      FROM crm.webhook_subscriptions AS s
     WHERE s.is_active AND (p_topic = ANY (s.topics) OR '*' = ANY (s.topics))
       AND (s.agent_id IS NULL OR s.agent_id = p_agent_id OR s.agent_id = p_other_agent_id);
    IF FOUND THEN
        PERFORM pg_catalog.pg_notify('webhook_delivery', '');
    END IF;
    RETURN v_event_id;
END
$$;
COMMENT ON FUNCTION crm.emit_event(text, uuid, uuid, jsonb, uuid, text) IS
    'Writes one event to crm.outbox_events (actor: p_actor, else crm.actor()) and a pending delivery for each active '
    'subscription to its topic (and agent), then NOTIFYs webhook_delivery; returns the event_id. Nothing (NULL) while '
    'the setting events_enabled is false. SECURITY DEFINER: the outbox is written for every caller, none of whom may '
    'write it.';

-- crm.agent_brief(agent): the agent as events name them ({agent_id, name}); NULL for no agent.
CREATE OR REPLACE FUNCTION crm.agent_brief(p_agent_id uuid)
RETURNS jsonb
LANGUAGE plpgsql
STABLE
SET search_path = ''
AS $$
BEGIN
    IF p_agent_id IS NULL THEN
        RETURN NULL;
    END IF;
    RETURN (SELECT pg_catalog.jsonb_build_object('agent_id', g.agent_id, 'name', g.full_name, 'email', g.email,
                                                 'phone', g.phone)
              FROM crm.agents AS g WHERE g.agent_id = p_agent_id);
END
$$;
COMMENT ON FUNCTION crm.agent_brief(uuid) IS 'An agent as event payloads name one: agent_id, name, email, phone.';

-- crm.emit_lead_queued(lead): the lead.queued event of a lead that waits for an agent with capacity.
CREATE OR REPLACE FUNCTION crm.emit_lead_queued(p_lead crm.leads)
RETURNS void
LANGUAGE plpgsql
SET search_path = ''
AS $$
DECLARE
    v_event bigint;   -- assigned, not PERFORMed: an expression costs less than a statement
BEGIN
    v_event := crm.emit_event('lead.queued', p_lead.lead_id, NULL, pg_catalog.jsonb_build_object(
        'lead_id', p_lead.lead_id, 'queued_at', p_lead.queued_at, 'score', p_lead.score,
        'reason', 'no_agent_with_capacity'));
END
$$;
COMMENT ON FUNCTION crm.emit_lead_queued(crm.leads) IS 'Writes lead.queued for a lead in the assignment queue.';

-- AFTER INSERT ON crm.leads (deferred): lead.captured, and lead.duplicate_detected / lead.queued when it is one.
-- The payload and the lead's agent come from one statement (the lead as the transaction leaves it, its areas, its
-- open assignment), not three: each statement of a trigger is started and ended again at every firing.
CREATE OR REPLACE FUNCTION crm.leads_emit_captured()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = ''
AS $$
DECLARE
    v_event bigint;   -- assigned, not PERFORMed: an expression costs less than a statement
    v_data  jsonb;
    v_agent uuid;
BEGIN
    SELECT pg_catalog.jsonb_build_object(
               'lead_id', l.lead_id, 'source_type', l.source_type, 'external_id', l.external_id,
               'first_name', l.first_name, 'last_name', l.last_name, 'email', l.email, 'phone', l.phone,
               'nationality', l.nationality, 'language_preference', l.language_preference,
               'property_type', l.property_type, 'budget_min', l.budget_min, 'budget_max', l.budget_max,
               'preferred_areas', (SELECT coalesce(pg_catalog.jsonb_agg(p.area_code ORDER BY p.area_code), '[]'::jsonb)
                                     FROM crm.lead_preferred_areas AS p WHERE p.lead_id = l.lead_id),
               'status', l.status, 'score', l.score, 'duplicate_of', l.duplicate_of,
               'queued', l.queued_at IS NOT NULL, 'agent_id', a.agent_id, 'campaign_id', l.campaign_id,
               'created_at', l.created_at),
           a.agent_id
      INTO v_data, v_agent
      FROM crm.leads AS l
      LEFT JOIN crm.lead_assignments AS a ON a.lead_id = l.lead_id AND a.released_at IS NULL
     WHERE l.lead_id = NEW.lead_id;
    v_event := crm.emit_event('lead.captured', NEW.lead_id, v_agent, v_data, NULL, NEW.created_by);   -- its creator
    IF NEW.duplicate_of IS NOT NULL THEN
        v_event := crm.emit_event('lead.duplicate_detected', NEW.lead_id, v_agent, pg_catalog.jsonb_build_object(
            'lead_id', NEW.lead_id, 'duplicate_of', NEW.duplicate_of, 'source_type', NEW.source_type,
            'earlier_source_type', (SELECT d.source_type FROM crm.leads AS d WHERE d.lead_id = NEW.duplicate_of),
            'agent_id', v_agent));
    END IF;
    IF NEW.queued_at IS NOT NULL THEN
        PERFORM crm.emit_lead_queued(NEW);
    END IF;
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION crm.leads_emit_captured() IS
    'Trigger (deferred to commit): lead.captured with the lead as stored, its areas and agent; lead.duplicate_detected '
    'for a linked inquiry; lead.queued when it waits for capacity. SECURITY DEFINER: writes the outbox.';

DROP TRIGGER IF EXISTS leads_90_emit_captured ON crm.leads;
CREATE CONSTRAINT TRIGGER leads_90_emit_captured AFTER INSERT ON crm.leads
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION crm.leads_emit_captured();

-- AFTER UPDATE OF queued_at ON crm.leads (deferred), into the queue: lead.queued.
CREATE OR REPLACE FUNCTION crm.leads_emit_queued()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = ''
AS $$
BEGIN
    PERFORM crm.emit_lead_queued(NEW);
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION crm.leads_emit_queued() IS
    'Trigger (deferred to commit): lead.queued when a stored lead enters the assignment queue. SECURITY DEFINER: '
    'writes the outbox.';

DROP TRIGGER IF EXISTS leads_91_emit_queued ON crm.leads;
CREATE CONSTRAINT TRIGGER leads_91_emit_queued AFTER UPDATE OF queued_at ON crm.leads
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
    WHEN (OLD.queued_at IS NULL AND NEW.queued_at IS NOT NULL) EXECUTE FUNCTION crm.leads_emit_queued();

-- AFTER INSERT ON crm.lead_assignments (deferred): lead.assigned for a lead's first agent, lead.reassigned when it
-- had one before (from the agent of its previous assignment).
CREATE OR REPLACE FUNCTION crm.lead_assignments_emit()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = ''
AS $$
DECLARE
    v_event    bigint;   -- assigned, not PERFORMed: an expression costs less than a statement
    v_previous crm.lead_assignments;
    v_agent    jsonb := crm.agent_brief(NEW.agent_id);   -- one lookup for both events of the assignment
    -- the actor the row recorded (lead_assignments_10_check_new: crm.actor() when the insert named none), not the
    -- caller's seal checked again
    v_actor    text := NEW.assigned_by;
BEGIN
    SELECT * INTO v_previous FROM crm.lead_assignments AS a
     WHERE a.lead_id = NEW.lead_id AND a.assignment_id <> NEW.assignment_id AND a.released_at IS NOT NULL
       AND a.released_at <= NEW.assigned_at AND a.assigned_at <= NEW.assigned_at
       AND NOT (a.assigned_at = NEW.assigned_at AND a.released_at > NEW.assigned_at)
     ORDER BY a.assigned_at DESC, a.released_at DESC LIMIT 1;
    IF v_previous.assignment_id IS NULL THEN
        v_event := crm.emit_event('lead.assigned', NEW.lead_id, NEW.agent_id, pg_catalog.jsonb_build_object(
            'lead_id', NEW.lead_id, 'assignment_id', NEW.assignment_id, 'agent', v_agent,
            'method', NEW.kind, 'reason', NEW.reason, 'assigned_at', NEW.assigned_at, 'assigned_by', NEW.assigned_by),
            NULL, v_actor);
    ELSE
        v_event := crm.emit_event('lead.reassigned', NEW.lead_id, NEW.agent_id, pg_catalog.jsonb_build_object(
            'lead_id', NEW.lead_id, 'assignment_id', NEW.assignment_id, 'from_agent', crm.agent_brief(v_previous.agent_id),
            'to_agent', v_agent, 'method', NEW.kind, 'reason', NEW.reason,
            'release_reason', v_previous.release_reason, 'assigned_at', NEW.assigned_at, 'assigned_by', NEW.assigned_by),
            v_previous.agent_id, v_actor);
    END IF;
    IF NEW.respond_by IS NOT NULL THEN
        v_event := crm.emit_event('lead.offered', NEW.lead_id, NEW.agent_id, pg_catalog.jsonb_build_object(
            'lead_id', NEW.lead_id, 'assignment_id', NEW.assignment_id, 'agent', v_agent,
            'offer_round', NEW.offer_round, 'respond_by', NEW.respond_by, 'assigned_at', NEW.assigned_at),
            NULL, v_actor);
    ELSIF NEW.kind = 'pond_claim' THEN
        v_event := crm.emit_event('lead.claimed', NEW.lead_id, NEW.agent_id, pg_catalog.jsonb_build_object(
            'lead_id', NEW.lead_id, 'assignment_id', NEW.assignment_id, 'agent', v_agent,
            'claimed_at', NEW.assigned_at), NULL, v_actor);
    END IF;
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION crm.lead_assignments_emit() IS
    'Trigger (deferred to commit): lead.assigned (the lead''s first agent) or lead.reassigned (from its previous '
    'assignment''s agent), with the method (assignment kind) and reason; then lead.offered for an offer (its round '
    'and respond_by) or lead.claimed for a claim from the pond. SECURITY DEFINER: writes the outbox.';

-- AFTER UPDATE OF accepted_at ON crm.lead_assignments (deferred), an offer accepted: lead.accepted.
CREATE OR REPLACE FUNCTION crm.lead_assignments_emit_accepted()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = ''
AS $$
DECLARE
    v_event bigint;   -- assigned, not PERFORMed: an expression costs less than a statement
BEGIN
    v_event := crm.emit_event('lead.accepted', NEW.lead_id, NEW.agent_id, pg_catalog.jsonb_build_object(
        'lead_id', NEW.lead_id, 'assignment_id', NEW.assignment_id, 'agent', crm.agent_brief(NEW.agent_id),
        'offer_round', NEW.offer_round, 'respond_by', NEW.respond_by, 'accepted_at', NEW.accepted_at,
        'seconds_to_accept', NEW.offer_response_seconds));   -- the offer's response time, as its clock counts it
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION crm.lead_assignments_emit_accepted() IS
    'Trigger (deferred to commit): lead.accepted when an offer is accepted (accept, or a first outbound contact). '
    'SECURITY DEFINER: writes the outbox.';

DROP TRIGGER IF EXISTS lead_assignments_91_emit_accepted ON crm.lead_assignments;
CREATE CONSTRAINT TRIGGER lead_assignments_91_emit_accepted AFTER UPDATE OF accepted_at ON crm.lead_assignments
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
    WHEN (OLD.accepted_at IS NULL AND NEW.accepted_at IS NOT NULL AND NEW.respond_by IS NOT NULL)
    EXECUTE FUNCTION crm.lead_assignments_emit_accepted();

-- AFTER UPDATE OF released_at ON crm.lead_assignments (deferred), an offer ended unanswered: lead.offer_expired (and
-- sla.breached, first_response) or lead.offer_declined.
CREATE OR REPLACE FUNCTION crm.lead_assignments_emit_offer_end()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = ''
AS $$
DECLARE
    v_event    bigint;   -- assigned, not PERFORMed: an expression costs less than a statement
    v_data jsonb := pg_catalog.jsonb_build_object(
        'lead_id', NEW.lead_id, 'assignment_id', NEW.assignment_id, 'agent', crm.agent_brief(NEW.agent_id),
        'offer_round', NEW.offer_round, 'respond_by', NEW.respond_by, 'released_at', NEW.released_at);
BEGIN
    IF NEW.release_reason = 'offer_declined' THEN
        v_event := crm.emit_event('lead.offer_declined', NEW.lead_id, NEW.agent_id, v_data);
    ELSE
        v_event := crm.emit_event('lead.offer_expired', NEW.lead_id, NEW.agent_id, v_data);
        v_event := crm.emit_event('sla.breached', NEW.lead_id, NEW.agent_id,
                               v_data || pg_catalog.jsonb_build_object('sla', 'first_response'));
    END IF;
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION crm.lead_assignments_emit_offer_end() IS
    'Trigger (deferred to commit): lead.offer_declined, or lead.offer_expired with sla.breached (first_response), when '
    'an offer is released unanswered. SECURITY DEFINER: writes the outbox.';

DROP TRIGGER IF EXISTS lead_assignments_92_emit_offer_end ON crm.lead_assignments;
CREATE CONSTRAINT TRIGGER lead_assignments_92_emit_offer_end AFTER UPDATE OF released_at ON crm.lead_assignments
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
    WHEN (OLD.released_at IS NULL AND NEW.released_at IS NOT NULL AND NEW.respond_by IS NOT NULL
          AND NEW.accepted_at IS NULL AND NEW.release_reason IN ('offer_expired', 'offer_declined'))
    EXECUTE FUNCTION crm.lead_assignments_emit_offer_end();

-- AFTER UPDATE OF pooled_at, pond_alerted_at ON crm.leads (deferred): lead.pooled; sla.breached (pond_wait) when the
-- supervisors are alerted of a lead waiting in the pond.
CREATE OR REPLACE FUNCTION crm.leads_emit_pond()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = ''
AS $$
DECLARE
    v_event bigint;   -- assigned, not PERFORMed: an expression costs less than a statement
BEGIN
    IF NEW.pooled_at IS NOT NULL AND OLD.pooled_at IS NULL THEN
        v_event := crm.emit_event('lead.pooled', NEW.lead_id, NULL, pg_catalog.jsonb_build_object(
            'lead_id', NEW.lead_id, 'pooled_at', NEW.pooled_at, 'score', NEW.score,
            'property_type', NEW.property_type, 'source_type', NEW.source_type));
    END IF;
    IF NEW.pond_alerted_at IS NOT NULL AND OLD.pond_alerted_at IS NULL AND NEW.pooled_at IS NOT NULL THEN
        v_event := crm.emit_event('sla.breached', NEW.lead_id, NULL, pg_catalog.jsonb_build_object(
            'lead_id', NEW.lead_id, 'sla', 'pond_wait', 'pooled_at', NEW.pooled_at,
            'waiting_seconds', extract(epoch FROM NEW.pond_alerted_at - NEW.pooled_at)::integer));
    END IF;
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION crm.leads_emit_pond() IS
    'Trigger (deferred to commit): lead.pooled when a lead enters the pond; sla.breached (pond_wait) when it has '
    'waited past pond_alert_after. SECURITY DEFINER: writes the outbox.';

DROP TRIGGER IF EXISTS leads_92_emit_pond ON crm.leads;
CREATE CONSTRAINT TRIGGER leads_92_emit_pond AFTER UPDATE OF pooled_at, pond_alerted_at ON crm.leads
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
    WHEN ((OLD.pooled_at IS NULL AND NEW.pooled_at IS NOT NULL)
          OR (OLD.pond_alerted_at IS NULL AND NEW.pond_alerted_at IS NOT NULL))
    EXECUTE FUNCTION crm.leads_emit_pond();

DROP TRIGGER IF EXISTS lead_assignments_90_emit ON crm.lead_assignments;
CREATE CONSTRAINT TRIGGER lead_assignments_90_emit AFTER INSERT ON crm.lead_assignments
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION crm.lead_assignments_emit();

-- AFTER INSERT ON crm.lead_conversion_history (deferred), past the first status: lead.status_changed.
CREATE OR REPLACE FUNCTION crm.lead_conversion_history_emit()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = ''
AS $$
DECLARE
    v_event bigint;   -- assigned, not PERFORMed: an expression costs less than a statement
BEGIN
    v_event := crm.emit_event('lead.status_changed', NEW.lead_id, NEW.agent_id, pg_catalog.jsonb_build_object(
        'lead_id', NEW.lead_id, 'old_status', NEW.from_status, 'new_status', NEW.to_status,
        'changed_by', NEW.changed_by, 'changed_at', NEW.changed_at, 'agent_id', NEW.agent_id, 'note', NEW.note));
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION crm.lead_conversion_history_emit() IS
    'Trigger (deferred to commit): lead.status_changed for every status a lead enters after its first, with the old '
    'and new status and who changed it. SECURITY DEFINER: writes the outbox.';

DROP TRIGGER IF EXISTS lead_conversion_history_90_emit ON crm.lead_conversion_history;
CREATE CONSTRAINT TRIGGER lead_conversion_history_90_emit AFTER INSERT ON crm.lead_conversion_history
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
    WHEN (NEW.from_status IS NOT NULL) EXECUTE FUNCTION crm.lead_conversion_history_emit();

-- AFTER INSERT ON crm.follow_up_tasks (deferred): follow_up.scheduled.
CREATE OR REPLACE FUNCTION crm.follow_up_tasks_emit()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = ''
AS $$
DECLARE
    v_event bigint;   -- assigned, not PERFORMed: an expression costs less than a statement
BEGIN
    v_event := crm.emit_event('follow_up.scheduled', NEW.lead_id, NEW.agent_id, pg_catalog.jsonb_build_object(
        'task_id', NEW.task_id, 'lead_id', NEW.lead_id, 'agent_id', NEW.agent_id, 'task_type', NEW.task_type,
        'priority', NEW.priority, 'due_at', NEW.due_at, 'ends_at', NEW.ends_at, 'notes', NEW.notes,
        'created_by', NEW.created_by), NULL, NEW.created_by);   -- the actor: crm.actor() as the insert recorded it
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION crm.follow_up_tasks_emit() IS
    'Trigger (deferred to commit): follow_up.scheduled for every task booked. SECURITY DEFINER: writes the outbox.';

DROP TRIGGER IF EXISTS follow_up_tasks_90_emit ON crm.follow_up_tasks;
CREATE CONSTRAINT TRIGGER follow_up_tasks_90_emit AFTER INSERT ON crm.follow_up_tasks
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION crm.follow_up_tasks_emit();

-- AFTER INSERT ON crm.follow_up_escalations (deferred): follow_up.escalated.
CREATE OR REPLACE FUNCTION crm.follow_up_escalations_emit()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = ''
AS $$
DECLARE
    v_event    bigint;   -- assigned, not PERFORMed: an expression costs less than a statement
    v_task crm.follow_up_tasks;
BEGIN
    SELECT * INTO v_task FROM crm.follow_up_tasks AS t WHERE t.task_id = NEW.task_id;
    v_event := crm.emit_event('follow_up.escalated', v_task.lead_id, v_task.agent_id, pg_catalog.jsonb_build_object(
        'escalation_id', NEW.escalation_id, 'task_id', NEW.task_id, 'lead_id', v_task.lead_id,
        'agent_id', v_task.agent_id, 'escalated_to', crm.agent_brief(NEW.escalated_to),
        'overdue_seconds', extract(epoch FROM NEW.overdue_by)::bigint, 'due_at', v_task.due_at,
        'reason', NEW.reason, 'escalated_at', NEW.escalated_at), NEW.escalated_to);
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION crm.follow_up_escalations_emit() IS
    'Trigger (deferred to commit): follow_up.escalated, naming the task''s agent and the supervisor it went to. '
    'SECURITY DEFINER: writes the outbox.';

DROP TRIGGER IF EXISTS follow_up_escalations_90_emit ON crm.follow_up_escalations;
CREATE CONSTRAINT TRIGGER follow_up_escalations_90_emit AFTER INSERT ON crm.follow_up_escalations
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION crm.follow_up_escalations_emit();

-- AFTER UPDATE OF active_leads, max_active_leads ON crm.agents (deferred), onto the cap (more leads, or a cap
-- lowered onto the load): agent.capacity_reached.
CREATE OR REPLACE FUNCTION crm.agents_emit_capacity()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = ''
AS $$
DECLARE
    v_event bigint;   -- assigned, not PERFORMed: an expression costs less than a statement
BEGIN
    v_event := crm.emit_event('agent.capacity_reached', NULL, NEW.agent_id, pg_catalog.jsonb_build_object(
        'agent', crm.agent_brief(NEW.agent_id), 'active_leads', NEW.active_leads,
        'max_active_leads', NEW.max_active_leads));
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION crm.agents_emit_capacity() IS
    'Trigger (deferred to commit): agent.capacity_reached when an agent''s active leads reach their cap (new leads '
    'go to others, or to the queue). SECURITY DEFINER: writes the outbox.';

DROP TRIGGER IF EXISTS agents_90_emit_capacity ON crm.agents;
CREATE CONSTRAINT TRIGGER agents_90_emit_capacity AFTER UPDATE OF active_leads, max_active_leads ON crm.agents
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
    WHEN (NEW.active_leads >= NEW.max_active_leads AND OLD.active_leads < OLD.max_active_leads)
    EXECUTE FUNCTION crm.agents_emit_capacity();

-- crm.prune_events(now, limit): deletes events older than event_retention with no pending delivery, and their
-- deliveries and attempts (at most p_limit events per call: the sweep runs every minute). Returns how many.
CREATE OR REPLACE FUNCTION crm.prune_events(p_now timestamptz, p_limit integer DEFAULT 10000)
RETURNS integer
LANGUAGE plpgsql
SET search_path = ''
AS $$
DECLARE
    v_count integer;
BEGIN
    WITH old AS (
        SELECT e.event_id FROM crm.outbox_events AS e
         WHERE e.occurred_at < p_now - crm.setting_interval('event_retention')
           AND NOT EXISTS (SELECT 1 FROM crm.webhook_deliveries AS d
                            WHERE d.event_id = e.event_id AND d.state = 'pending')
         ORDER BY e.occurred_at LIMIT p_limit),
    deliveries AS (   -- by primary key: every subscription with each old event
        DELETE FROM crm.webhook_deliveries AS d USING old, crm.webhook_subscriptions AS s
         WHERE d.subscription_id = s.subscription_id AND d.event_id = old.event_id)
    DELETE FROM crm.outbox_events AS e USING old WHERE e.event_id = old.event_id;
    GET DIAGNOSTICS v_count = ROW_COUNT;
    RETURN v_count;
END
$$;
COMMENT ON FUNCTION crm.prune_events(timestamptz, integer) IS
    'Sweep: deletes up to p_limit events older than event_retention whose deliveries are all finished, with those '
    'deliveries and their attempts. Returns the number of events deleted.';

-- crm.outbox_metrics(): for GET /metrics (api.metrics): pending deliveries and the age of the oldest one's event.
CREATE OR REPLACE FUNCTION crm.outbox_metrics()
RETURNS jsonb
LANGUAGE plpgsql
STABLE
SET search_path = ''
AS $$
BEGIN
    RETURN (SELECT pg_catalog.jsonb_build_object(
                       'outbox_depth', count(*),
                       'outbox_oldest_seconds', coalesce(extract(epoch FROM now() - min(e.occurred_at)), 0))
              FROM crm.webhook_deliveries AS d
              JOIN crm.outbox_events AS e ON e.event_id = d.event_id
             WHERE d.state = 'pending');
END
$$;
COMMENT ON FUNCTION crm.outbox_metrics() IS
    'The outbox''s depth (deliveries pending) and the age in seconds of the oldest pending delivery''s event.';
