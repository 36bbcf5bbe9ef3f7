-- Lead capture: api.capture_lead (POST /api/v1/leads/capture), an outline of the steps in 24_crm_capture.sql.
-- The api functions are SECURITY DEFINER: the app's login reaches crm only through them and row-level security.

-- api.capture_lead(input, actor, idempotency_key, dead_letter_id, now, suggest)
-- p_input is the request body normalised by the API: phone in E.164, e-mail lower case, names trimmed,
-- budgets as numbers; nationality, language and areas as typed (mapped here, exactly). Returns
-- json {"status": 201 | 202, "replayed": bool, "body": {...}} (the body's keys in the documented order): 201 assigned, 202 stored and queued for an agent.
-- p_suggest: how many of our own listings to suggest in the body's suggested_properties (crm.capture_suggestions, in
-- this transaction; the API asks for 3 unless an external suggestion service is configured); NULL: none.
-- A retry (same Idempotency-Key, or same source + external_id) returns the first answer and writes nothing.
-- Errors: PT409 duplicate_lead (same phone and source; DETAIL names the existing lead),
--         PT422 idempotency_key_reused (same key, different request), PT422 unknown_source, PT422 source_inactive,
--         PT404 dead_letter_not_found, PT409 dead_letter_replayed; constraint violations of crm.leads (422).
-- The steps that return a row are assigned (v := crm.step(...)), not selected (SELECT * INTO v FROM crm.step(...)):
-- an assignment is evaluated as an expression, while a SELECT is a statement of its own (a plan started, a function
-- scan materialised), about 25,000 instructions more each (docs/benchmarks.md). For the same reason the checks and
-- writers return a value that is assigned (v_done) rather than PERFORMed (a statement: about 12,000 more each).
-- Every statement of the capture (its steps and the triggers they fire) runs on generic plans, kept for the session:
-- all of them look rows up by key, so a plan built for the call's values is no better, and the planner's estimates
-- made custom plans look cheaper for some of them, so those were planned again on every call (7 % of a capture's
-- instructions, bench/instructions.py; docs/benchmarks.md "What a capture costs in instructions").
DROP FUNCTION IF EXISTS api.capture_lead(jsonb, text, text, text, uuid, timestamptz);
DROP FUNCTION IF EXISTS api.capture_lead(jsonb, text, text, uuid, timestamptz);
DROP FUNCTION IF EXISTS api.capture_lead(jsonb, text, text, uuid, timestamptz, integer);
CREATE FUNCTION api.capture_lead(
    p_input           jsonb,
    p_actor           text,
    p_idempotency_key text DEFAULT NULL,
    p_dead_letter_id  uuid DEFAULT NULL,
    p_now             timestamptz DEFAULT NULL,
    p_suggest         integer DEFAULT NULL
)
RETURNS json
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = ''
SET plan_cache_mode = force_generic_plan
AS $$
DECLARE
    v_now      timestamptz := coalesce(p_now, now());
    v_data     jsonb := coalesce(p_input -> 'lead_data', '{}'::jsonb);
    v_source   text := p_input ->> 'source_type';
    v_phone    text := v_data ->> 'phone';
    v_external text := nullif(p_input #>> '{source_details,external_id}', '');
    -- md5 of the normalised request (jsonb text is canonical), when a retry can be asked about
    v_hash     text := CASE WHEN p_idempotency_key IS NOT NULL OR v_external IS NOT NULL THEN pg_catalog.md5(p_input::text) END;
    v_answer   json;
    v_input    record;   -- crm.map_capture_input
    v_earlier  record;   -- crm.earlier_inquiry
    v_choice   record;   -- crm.choose_capture_agent
    v_score    jsonb;
    v_lead_id  uuid;
    v_follow   json;
    v_suggest  record;   -- crm.capture_suggestions
    v_body     json;
    v_status   integer;
    v_done     text;     -- what a check or writer answers, unused: assigned, not PERFORMed
    v_actor    text;
BEGIN
    v_done := crm.authorize('capture');
    v_done := crm.set_actor(p_actor);
    -- the actor asked once (the caller's seal checked once) for the lead, its assignment and its first follow-up
    v_actor := crm.actor();
    IF p_dead_letter_id IS NOT NULL THEN
        PERFORM crm.claim_dead_letter(p_dead_letter_id);
    END IF;

    -- 1. a retry with the same Idempotency-Key gets the first answer
    v_answer := crm.capture_receipt(p_idempotency_key, v_hash);
    IF v_answer IS NOT NULL THEN
        RETURN v_answer;
    END IF;
    -- 2. the source accepts leads; 3. a portal re-sending its own lead id gets the first answer
    v_done := crm.require_source(v_source);
    v_answer := crm.portal_resend(v_source, v_external);
    IF v_answer IS NOT NULL THEN
        RETURN v_answer;
    END IF;
    -- 4. one capture of a phone at a time; the same phone from the same source is a conflict
    v_done := crm.claim_phone(v_source, v_phone);
    -- 5. what was typed, mapped to our keys; 6. the client's earlier lead from another source
    v_input := crm.map_capture_input(v_data, coalesce(p_input -> 'source_details', '{}'::jsonb));
    v_earlier := crm.earlier_inquiry(v_phone, v_source, v_now);
    -- 7. the score; 8. the agent, chosen and locked
    v_score := crm.capture_score(v_source, (v_data ->> 'budget_min')::numeric, (v_data ->> 'budget_max')::numeric,
                                 v_input.nationality, (v_data ->> 'property_type')::crm.property_type,
                                 v_input.referrer_agent_id);
    v_choice := crm.choose_capture_agent((v_data ->> 'property_type')::crm.property_type,
        v_input.preferred_areas, v_input.language_preference, v_earlier.agent_id, v_now);
    -- 9. the lead, unless a concurrent capture of it committed first
    v_lead_id := crm.store_captured_lead(p_input, v_input.nationality, v_input.language_preference,
        v_input.preferred_areas, v_input.source_property_id, v_input.referrer_agent_id, v_input.unmatched_input,
        v_score, v_choice.decision, v_earlier.lead_id, v_now, v_actor);
    IF v_lead_id IS NULL THEN
        RETURN crm.capture_race_lost(v_source, v_external, v_phone);
    END IF;
    -- 10. the assignment and first follow-up; 11. a note on the earlier lead
    v_follow := crm.assign_captured_lead(v_lead_id, v_choice.decision, v_earlier.lead_id, (v_score ->> 'score')::integer,
                                         v_now, v_actor);
    v_done := crm.note_duplicate_inquiry(v_earlier.lead_id, v_lead_id, v_source,
                                         (v_choice.decision ->> 'agent_id')::uuid, v_now);
    -- 12. the listings to suggest; 13. the answer, remembered for retries
    v_suggest := crm.capture_suggestions(v_lead_id, p_suggest);
    v_body := crm.capture_response(v_lead_id,
        coalesce(p_input -> 'warnings', '[]') || v_input.warnings || v_choice.warnings || coalesce(v_suggest.warnings, '[]'),
        v_follow, v_suggest.property_ids);
    v_status := CASE WHEN v_choice.decision ->> 'agent_id' IS NULL THEN 202 ELSE 201 END;
    v_done := crm.remember_capture(p_idempotency_key, v_source, v_external, v_hash, v_status, v_body, v_lead_id,
                                   p_dead_letter_id, v_now);
    RETURN pg_catalog.json_build_object('status', v_status, 'replayed', false, 'body', v_body);
END
$$;
COMMENT ON FUNCTION api.capture_lead(jsonb, text, text, uuid, timestamptz, integer) IS
    'POST /api/v1/leads/capture in one transaction: idempotency, duplicate checks, scoring, assignment (or queue), initial '
    'follow-up, p_suggest suggested listings. Returns {"status": 201|202, "replayed", "body"}. Errors: PT409 duplicate_lead, PT422 idempotency_key_reused, '
    'PT422 unknown_source, PT422 source_inactive, PT404 dead_letter_not_found, PT409 dead_letter_replayed; crm.authorize''s. '
    'SECURITY DEFINER: duplicate detection reads every lead and assignment ranks and locks every agent, beyond any '
    'caller''s own rows.';
