-- Offers and the pond (issue 16): every routed assignment is an offer, which the agent must accept (POST .../accept,
-- or a first outbound contact: call, whatsapp, email) by respond_by; an offer declined or not accepted in time moves
-- to the next ranked available agent (never back to one of the chain), and after max_offers the lead waits in the
-- pond, where an available agent with room claims it. The open assignment row carries the offer, so the capacity
-- CHECK and the one-open-assignment index hold through every move; the lead's row lock orders accept, decline,
-- expiry and claim, so each race has exactly one outcome.

-- crm.is_offer_kind(kind): the assignment kinds routing opens, which are offers. A plain IMMUTABLE SQL function
-- without SET, inlined where it is asked (the offer trigger of every assignment), as crm.is_closed is: with a SET
-- clause a SQL function is planned again on every call (tests/db/test_migrations.py lists the exceptions).
CREATE OR REPLACE FUNCTION crm.is_offer_kind(p_kind crm.assignment_kind)
RETURNS boolean
LANGUAGE sql
IMMUTABLE
PARALLEL SAFE
AS $$
    SELECT p_kind IN ('auto', 'duplicate_link', 'queue_drain', 'auto_reassign_no_response', 'workload_balance')
$$;
COMMENT ON FUNCTION crm.is_offer_kind(crm.assignment_kind) IS
    'True for the assignment kinds routing opens (offers); false for manual, import and pond_claim (accepted at once).';

-- crm.next_offer_due(): the earliest respond_by of the offers still waiting for an answer (open, not accepted, on a
-- lead not closed); NULL: none. What the offer timer sleeps towards (jobs.next_offer_deadline), and what a new offer
-- compares its own deadline with to decide whether the timer must be woken. Walks the offer_due index in order.
CREATE OR REPLACE FUNCTION crm.next_offer_due()
RETURNS timestamptz
LANGUAGE plpgsql
STABLE
SET search_path = ''
AS $$
BEGIN
    RETURN (SELECT a.respond_by
              FROM crm.lead_assignments AS a JOIN crm.leads AS l ON l.lead_id = a.lead_id
             WHERE a.released_at IS NULL AND a.accepted_at IS NULL AND a.respond_by IS NOT NULL
               AND NOT crm.is_closed(l.status)
             ORDER BY a.respond_by
             LIMIT 1);
END
$$;
COMMENT ON FUNCTION crm.next_offer_due() IS
    'The earliest deadline of an offer still waiting for an answer (NULL: none): what the offer timer sleeps towards.';

-- BEFORE INSERT ON crm.lead_assignments: an open routed assignment is an offer: its round (the previous offer's + 1
-- when that one was released by expiry or decline at this moment, else 1), its clock start (clock_started_at: now,
-- or when the agent's availability starts) and its deadline, the clock start plus first_response_sla. The timers are
-- told (NOTIFY offer_deadline) only when this deadline comes before every other waiting offer's (crm.next_offer_due):
-- a timer sleeps until the earliest one, so a later deadline needs no wake-up (with a steady SLA, every new offer's
-- comes last), and a capture then commits without a second notification for the timers to act on. Any other open
-- assignment is accepted as it is opened.
CREATE OR REPLACE FUNCTION crm.lead_assignments_offer()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = ''
AS $$
DECLARE
    v_round smallint;
    v_from  timestamptz;
BEGIN
    IF NEW.released_at IS NOT NULL OR NEW.respond_by IS NOT NULL OR NEW.accepted_at IS NOT NULL THEN
        RETURN NEW;
    END IF;
    IF NOT crm.is_offer_kind(NEW.kind) THEN
        NEW.accepted_at := NEW.assigned_at;
        RETURN NEW;
    END IF;
    SELECT crm.agent_available_from(g, NEW.assigned_at),
           (SELECT a.offer_round FROM crm.lead_assignments AS a
             WHERE a.lead_id = NEW.lead_id AND a.released_at = NEW.assigned_at
               AND a.release_reason IN ('offer_expired', 'offer_declined')
             ORDER BY a.offer_round DESC NULLS LAST LIMIT 1)
      INTO v_from, v_round
      FROM crm.agents AS g WHERE g.agent_id = NEW.agent_id;
    NEW.offer_round := coalesce(v_round, 0) + 1;
    NEW.clock_started_at := greatest(NEW.assigned_at, coalesce(v_from, NEW.assigned_at));
    NEW.respond_by := NEW.clock_started_at + crm.setting_interval('first_response_sla');
    IF NOT coalesce(crm.next_offer_due() <= NEW.respond_by, false) THEN
        PERFORM pg_catalog.pg_notify('offer_deadline', '');
    END IF;
    RETURN NEW;
END
$$;
COMMENT ON FUNCTION crm.lead_assignments_offer() IS
    'Trigger: a routed assignment is an offer (offer_round, clock_started_at = availability start, respond_by = that '
    '+ first_response_sla; NOTIFY offer_deadline when it is the earliest waiting deadline); a manual, imported or '
    'claimed one is accepted when opened.';

CREATE OR REPLACE TRIGGER lead_assignments_15_offer BEFORE INSERT ON crm.lead_assignments
    FOR EACH ROW EXECUTE FUNCTION crm.lead_assignments_offer();

-- crm.offer_chain(lead, assignment): the agents offered this lead in the chain that ends with this assignment (its
-- rounds back to round 1), whom a move skips.
CREATE OR REPLACE FUNCTION crm.offer_chain(p_lead_id uuid, p_assigned_at timestamptz)
RETURNS uuid[]
LANGUAGE plpgsql
STABLE
SET search_path = ''
AS $$
BEGIN
    RETURN ARRAY(
        SELECT a.agent_id FROM crm.lead_assignments AS a
         WHERE a.lead_id = p_lead_id AND a.respond_by IS NOT NULL AND a.assigned_at <= p_assigned_at
           AND a.assigned_at >= (SELECT max(f.assigned_at) FROM crm.lead_assignments AS f
                                  WHERE f.lead_id = p_lead_id AND f.offer_round = 1 AND f.assigned_at <= p_assigned_at));
END
$$;
COMMENT ON FUNCTION crm.offer_chain(uuid, timestamptz) IS
    'The agents of the lead''s current offer chain (from its round 1 up to p_assigned_at): a move never returns to them.';

-- crm.pool_lead(lead, now, reason): the lead leaves its offer (released with p_reason) for the pond; its open
-- follow-ups are cancelled (a claim books the claimer's first one).
CREATE OR REPLACE FUNCTION crm.pool_lead(p_lead_id uuid, p_now timestamptz, p_reason text)
RETURNS void
LANGUAGE plpgsql
SET search_path = ''
AS $$
BEGIN
    UPDATE crm.lead_assignments SET released_at = p_now, release_reason = p_reason
     WHERE lead_id = p_lead_id AND released_at IS NULL;
    UPDATE crm.follow_up_tasks SET status = 'cancelled', completed_at = p_now,
                                   notes = coalesce(notes || ' ', '') || '(in the pond)'
     WHERE lead_id = p_lead_id AND status = 'open';
    UPDATE crm.leads SET pooled_at = p_now, pond_alerted_at = NULL WHERE lead_id = p_lead_id;
END
$$;
COMMENT ON FUNCTION crm.pool_lead(uuid, timestamptz, text) IS
    'Releases the lead''s open assignment (p_reason), cancels its open follow-ups and puts it in the pond.';

-- crm.move_offer(assignment, now, reason): an offer that was declined or not accepted in time goes to the next ranked
-- agent available (none of its chain: crm.reassign_lead with the chain skipped), or, after max_offers or when nobody
-- can take it, to the pond. Returns {"to_agent_id", "pooled"}. The caller holds the lead's row lock.
CREATE OR REPLACE FUNCTION crm.move_offer(p_offer crm.lead_assignments, p_now timestamptz, p_reason text)
RETURNS jsonb
LANGUAGE plpgsql
SET search_path = ''
AS $$
DECLARE
    v_moved jsonb;
BEGIN
    IF p_offer.offer_round < (crm.setting('max_offers') #>> '{}')::integer THEN
        v_moved := crm.reassign_lead(p_offer.lead_id, 'auto', p_reason, NULL, p_now, false,
                                     crm.offer_chain(p_offer.lead_id, p_offer.assigned_at));
        IF v_moved ->> 'to_agent_id' IS NOT NULL THEN
            RETURN pg_catalog.jsonb_build_object('to_agent_id', v_moved ->> 'to_agent_id', 'pooled', false);
        END IF;
    END IF;
    PERFORM crm.pool_lead(p_offer.lead_id, p_now, p_reason);
    RETURN pg_catalog.jsonb_build_object('to_agent_id', NULL, 'pooled', true);
END
$$;
COMMENT ON FUNCTION crm.move_offer(crm.lead_assignments, timestamptz, text) IS
    'Moves a declined or expired offer to the next ranked available agent outside its chain, or to the pond after '
    'max_offers (or when nobody can take it).';

-- crm.open_offer(lead): the lead's open, not yet accepted offer (NULL row when there is none).
CREATE OR REPLACE FUNCTION crm.open_offer(p_lead_id uuid)
RETURNS crm.lead_assignments
LANGUAGE plpgsql
STABLE
SET search_path = ''
AS $$
DECLARE
    v_offer crm.lead_assignments;
BEGIN
    SELECT * INTO v_offer FROM crm.lead_assignments AS a
     WHERE a.lead_id = p_lead_id AND a.released_at IS NULL AND a.respond_by IS NOT NULL AND a.accepted_at IS NULL;
    RETURN v_offer;
END
$$;
COMMENT ON FUNCTION crm.open_offer(uuid) IS 'The lead''s open offer not yet accepted, if any.';

-- crm.require_offer(lead, caller agent): the open offer an agent may answer: PT409 no_open_offer when the lead has
-- none (accepted already, moved on, in the pond); an agent key answers only its own (the matrix checked the lead).
CREATE OR REPLACE FUNCTION crm.require_offer(p_lead_id uuid)
RETURNS crm.lead_assignments
LANGUAGE plpgsql
STABLE
SET search_path = ''
AS $$
DECLARE
    v_offer crm.lead_assignments := crm.open_offer(p_lead_id);
BEGIN
    IF v_offer.assignment_id IS NULL THEN
        RAISE EXCEPTION 'lead % has no open offer', p_lead_id USING ERRCODE = 'PT409', CONSTRAINT = 'no_open_offer',
            DETAIL = pg_catalog.json_build_object('lead_id', p_lead_id)::text;
    END IF;
    RETURN v_offer;
END
$$;
COMMENT ON FUNCTION crm.require_offer(uuid) IS 'The lead''s open offer; PT409 no_open_offer when it has none.';

-- crm.offer_resource(lead): the lead's offer state as the API answers it.
CREATE OR REPLACE FUNCTION crm.offer_resource(p_lead_id uuid)
RETURNS json
LANGUAGE plpgsql
STABLE
SET search_path = ''
AS $$
BEGIN
    RETURN (SELECT pg_catalog.json_build_object(
                'lead_id', l.lead_id, 'agent_id', a.agent_id, 'offer_round', a.offer_round,
                'respond_by', a.respond_by, 'accepted_at', a.accepted_at, 'pooled_at', l.pooled_at)
              FROM crm.leads AS l
              LEFT JOIN crm.lead_assignments AS a ON a.lead_id = l.lead_id AND a.released_at IS NULL
             WHERE l.lead_id = p_lead_id);
END
$$;
COMMENT ON FUNCTION crm.offer_resource(uuid) IS 'A lead''s offer: agent, round, respond_by, accepted_at; pooled_at in the pond.';

-- jobs.expire_offers(limit, now): the timer's pass: every open offer past respond_by moves on (crm.move_offer,
-- reason offer_expired), its lead locked with SKIP LOCKED (a lead an accept or a claim holds is done next pass, and
-- then the offer is accepted or gone: one outcome); pooled leads waiting past pond_alert_after alert the supervisors
-- once (sla.breached). A move that deadlocks with another timer's (two agents' counters taken in opposite order) is
-- undone alone and retried at the next pass. Returns {"expired", "pooled", "alerted", "retry"}.
CREATE OR REPLACE FUNCTION jobs.expire_offers(p_limit integer DEFAULT 200, p_now timestamptz DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = ''
AS $$
DECLARE
    v_now     timestamptz := coalesce(p_now, pg_catalog.now());
    v_offer   crm.lead_assignments;
    v_moved   jsonb;
    v_expired integer := 0;
    v_pooled  integer := 0;
    v_alerted integer := 0;
    v_retry   integer := 0;
    v_lead    uuid;
BEGIN
    PERFORM crm.set_actor('offer_timer');
    FOR v_lead IN
        SELECT l.lead_id FROM crm.lead_assignments AS a JOIN crm.leads AS l ON l.lead_id = a.lead_id
         WHERE a.released_at IS NULL AND a.accepted_at IS NULL AND a.respond_by <= v_now
           AND NOT crm.is_closed(l.status)   -- closed before anyone accepted: it keeps its agent, nothing to move
         ORDER BY a.respond_by LIMIT p_limit
           FOR UPDATE OF l SKIP LOCKED
    LOOP
        v_offer := crm.open_offer(v_lead);
        CONTINUE WHEN v_offer.assignment_id IS NULL OR v_offer.respond_by > v_now;   -- answered meanwhile
        BEGIN   -- each move in a subtransaction: a deadlock with another timer over two agents' counters undoes
                -- only this move (its locks go with it); the lead is due again at the next pass
            v_moved := crm.move_offer(v_offer, v_now, 'offer_expired');
            v_expired := v_expired + 1;
            v_pooled := v_pooled + (v_moved ->> 'pooled')::boolean::integer;
        EXCEPTION WHEN deadlock_detected THEN
            v_retry := v_retry + 1;
        END;
    END LOOP;
    FOR v_lead IN
        SELECT l.lead_id FROM crm.leads AS l
         WHERE l.pooled_at IS NOT NULL AND l.pond_alerted_at IS NULL
           AND l.pooled_at <= v_now - crm.setting_interval('pond_alert_after')
         ORDER BY l.pooled_at LIMIT p_limit
           FOR UPDATE SKIP LOCKED
    LOOP
        UPDATE crm.leads SET pond_alerted_at = v_now WHERE lead_id = v_lead;
        v_alerted := v_alerted + 1;
    END LOOP;
    RETURN pg_catalog.jsonb_build_object('expired', v_expired, 'pooled', v_pooled, 'alerted', v_alerted,
                                         'retry', v_retry);
END
$$;
COMMENT ON FUNCTION jobs.expire_offers(integer, timestamptz) IS
    'The offer timer''s pass: open offers past respond_by move on or to the pond; pooled leads past pond_alert_after '
    'alert once. SKIP LOCKED on the lead: safe with several processes. SECURITY DEFINER: writes crm for the job login.';

-- jobs.next_offer_deadline(): when the timer has something to do next (an offer's respond_by, a pond alert); NULL:
-- nothing pending.
CREATE OR REPLACE FUNCTION jobs.next_offer_deadline()
RETURNS timestamptz
LANGUAGE plpgsql
STABLE
SECURITY DEFINER
SET search_path = ''
AS $$
BEGIN
    RETURN least(
        crm.next_offer_due(),
        (SELECT min(l.pooled_at) + crm.setting_interval('pond_alert_after') FROM crm.leads AS l
          WHERE l.pooled_at IS NOT NULL AND l.pond_alerted_at IS NULL));
END
$$;
COMMENT ON FUNCTION jobs.next_offer_deadline() IS
    'The next offer deadline or pond alert (NULL: none). SECURITY DEFINER: reads crm for the job login.';
