-- Offers and the pond over HTTP: POST /api/v1/leads/{id}/accept | decline | claim, GET /api/v1/leads/pond.
-- The rules are in 29_crm_offers.sql; each call takes the lead's row lock first, so an accept racing the timer's
-- expiry, or two claims of one pooled lead, have exactly one outcome.

-- api.accept_lead(lead, actor): the agent accepts its open offer (the clock stops; the 24-hour rule takes over).
-- Errors: PT404 lead_not_found, PT409 no_open_offer, PT409 offer_expired (past respond_by: the timer moves it);
-- crm.authorize's (an agent: its own lead).
CREATE OR REPLACE FUNCTION api.accept_lead(p_lead_id uuid, p_actor text)
RETURNS json
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = ''
AS $$
DECLARE
    v_offer crm.lead_assignments;
BEGIN
    PERFORM crm.authorize('respond_offer', NULL, p_lead_id);
    PERFORM crm.set_actor(p_actor);
    PERFORM crm.lock_lead(p_lead_id);
    v_offer := crm.require_offer(p_lead_id);
    IF v_offer.respond_by < pg_catalog.clock_timestamp() THEN
        RAISE EXCEPTION 'the offer of lead % expired at %', p_lead_id, v_offer.respond_by
            USING ERRCODE = 'PT409', CONSTRAINT = 'offer_expired',
                  DETAIL = pg_catalog.json_build_object('lead_id', p_lead_id, 'respond_by', v_offer.respond_by)::text;
    END IF;
    UPDATE crm.lead_assignments SET accepted_at = greatest(assigned_at, pg_catalog.clock_timestamp())
     WHERE assignment_id = v_offer.assignment_id;
    RETURN crm.offer_resource(p_lead_id);
END
$$;
COMMENT ON FUNCTION api.accept_lead(uuid, text) IS
    'POST /api/v1/leads/{id}/accept. Errors: PT404 lead_not_found, PT409 no_open_offer, PT409 offer_expired; '
    'crm.authorize''s. SECURITY DEFINER: writes the assignment for its agent.';

-- api.decline_lead(lead, reason, actor): the agent passes its open offer on at once (crm.move_offer, reason
-- offer_declined; the decline reason in the activity). Errors: PT404 lead_not_found, PT409 no_open_offer;
-- crm.authorize's.
CREATE OR REPLACE FUNCTION api.decline_lead(p_lead_id uuid, p_reason text, p_actor text)
RETURNS json
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = ''
AS $$
DECLARE
    v_offer crm.lead_assignments;
    v_now   timestamptz := pg_catalog.clock_timestamp();
BEGIN
    PERFORM crm.authorize('respond_offer', NULL, p_lead_id);
    PERFORM crm.set_actor(p_actor);
    PERFORM crm.lock_lead(p_lead_id);
    v_offer := crm.require_offer(p_lead_id);
    v_now := greatest(v_now, v_offer.assigned_at);
    INSERT INTO crm.lead_activities (lead_id, activity_type, notes, details, occurred_at)
    VALUES (p_lead_id, 'note', 'Offer declined: ' || coalesce(p_reason, 'no reason given'),
            pg_catalog.jsonb_build_object('declined_by', v_offer.agent_id, 'reason', p_reason,
                                          'offer_round', v_offer.offer_round), v_now);
    PERFORM crm.move_offer(v_offer, v_now, 'offer_declined');
    RETURN crm.offer_resource(p_lead_id);
END
$$;
COMMENT ON FUNCTION api.decline_lead(uuid, text, text) IS
    'POST /api/v1/leads/{id}/decline: the offer moves on at once. Errors: PT404 lead_not_found, PT409 no_open_offer; '
    'crm.authorize''s. SECURITY DEFINER: moves the lead for its agent.';

-- api.claim_lead(lead, actor): an agent claims a lead from the pond: the first claim wins. The agent must be
-- available now, with room, and under daily_claim_cap claims this business day.
-- Errors: PT404 lead_not_found, PT409 lead_already_claimed (not in the pond: claimed, or never pooled),
-- PT409 agent_unavailable, PT409 agent_full, PT409 claim_cap_reached; crm.authorize's (agent keys).
CREATE OR REPLACE FUNCTION api.claim_lead(p_lead_id uuid, p_actor text)
RETURNS json
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = ''
AS $$
DECLARE
    v_agent   crm.agents;
    v_lead    crm.leads;
    v_now     timestamptz := pg_catalog.clock_timestamp();
    v_tz      text := crm.setting('timezone') #>> '{}';
    v_claimed integer;
BEGIN
    PERFORM crm.authorize('claim_lead', crm.caller_agent_id());
    PERFORM crm.set_actor(p_actor);
    SELECT * INTO v_lead FROM crm.leads AS l WHERE l.lead_id = p_lead_id FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'lead % not found', p_lead_id USING ERRCODE = 'PT404', CONSTRAINT = 'lead_not_found',
            DETAIL = pg_catalog.json_build_object('lead_id', p_lead_id)::text;
    END IF;
    IF v_lead.pooled_at IS NULL THEN
        RAISE EXCEPTION 'lead % is not in the pond', p_lead_id USING ERRCODE = 'PT409', CONSTRAINT = 'lead_already_claimed',
            DETAIL = pg_catalog.json_build_object('lead_id', p_lead_id)::text;
    END IF;
    SELECT * INTO v_agent FROM crm.agents AS g WHERE g.agent_id = crm.caller_agent_id() FOR NO KEY UPDATE;
    IF NOT crm.agent_free(v_agent, v_now, crm.minute_of_week(v_now), crm.office_week()) THEN
        RAISE EXCEPTION 'agent % is not available now', v_agent.agent_id USING ERRCODE = 'PT409',
            CONSTRAINT = 'agent_unavailable',
            DETAIL = pg_catalog.json_build_object('agent_id', v_agent.agent_id,
                                                  'reason', coalesce(crm.agent_away(v_agent, v_now), 'off_shift'))::text;
    ELSIF v_agent.active_leads >= v_agent.max_active_leads THEN
        RAISE EXCEPTION 'agent % has no free capacity', v_agent.agent_id USING ERRCODE = 'PT409', CONSTRAINT = 'agent_full',
            DETAIL = pg_catalog.json_build_object('agent_id', v_agent.agent_id, 'active_leads', v_agent.active_leads,
                                                  'max_active_leads', v_agent.max_active_leads)::text;
    END IF;
    SELECT count(*) INTO v_claimed FROM crm.lead_assignments AS a
     WHERE a.agent_id = v_agent.agent_id AND a.kind = 'pond_claim'
       AND a.assigned_at >= (pg_catalog.date_trunc('day', v_now AT TIME ZONE v_tz) AT TIME ZONE v_tz);
    IF v_claimed >= (crm.setting('daily_claim_cap') #>> '{}')::integer THEN
        RAISE EXCEPTION 'agent % claimed % leads today, the cap', v_agent.agent_id, v_claimed
            USING ERRCODE = 'PT409', CONSTRAINT = 'claim_cap_reached',
                  DETAIL = pg_catalog.json_build_object('claimed_today', v_claimed,
                                                        'daily_claim_cap', crm.setting('daily_claim_cap'))::text;
    END IF;
    UPDATE crm.leads SET pooled_at = NULL, pond_alerted_at = NULL WHERE lead_id = p_lead_id;
    INSERT INTO crm.lead_assignments (lead_id, agent_id, kind, reason, assigned_at)
    VALUES (p_lead_id, v_agent.agent_id, 'pond_claim', 'claimed from the pond', v_now);
    PERFORM crm.schedule_initial_follow_up(p_lead_id, v_agent.agent_id, v_lead.score, v_now);
    RETURN crm.offer_resource(p_lead_id);
END
$$;
COMMENT ON FUNCTION api.claim_lead(uuid, text) IS
    'POST /api/v1/leads/{id}/claim: the first claim of a pooled lead wins. Agent keys. Errors: PT404 lead_not_found, '
    'PT409 lead_already_claimed, agent_unavailable, agent_full, claim_cap_reached; crm.authorize''s. SECURITY '
    'DEFINER: a pooled lead is no agent''s, so row-level security shows it to nobody.';

-- api.pond(): the leads waiting in the pond, longest first, with what an agent needs to choose (no contact data:
-- those come with the claim). Agents, supervisors, admins.
CREATE OR REPLACE FUNCTION api.pond()
RETURNS json
LANGUAGE plpgsql
STABLE
SECURITY DEFINER
SET search_path = ''
AS $$
BEGIN
    PERFORM crm.authorize('pond');
    RETURN pg_catalog.json_build_object('items', (
        SELECT coalesce(pg_catalog.json_agg(pg_catalog.json_build_object(
                   'lead_id', l.lead_id, 'source_type', l.source_type, 'property_type', l.property_type,
                   'budget_min', l.budget_min, 'budget_max', l.budget_max, 'language_preference', l.language_preference,
                   'score', l.score, 'pooled_at', l.pooled_at, 'created_at', l.created_at) ORDER BY l.pooled_at), '[]'::json)
          FROM crm.leads AS l WHERE l.pooled_at IS NOT NULL));
END
$$;
COMMENT ON FUNCTION api.pond() IS
    'GET /api/v1/leads/pond: pooled leads, longest waiting first, without contact data. Errors: crm.authorize''s. '
    'SECURITY DEFINER: a pooled lead belongs to no agent.';
