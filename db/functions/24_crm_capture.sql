-- Lead capture, step by step: the functions api.capture_lead (31_api_capture.sql) calls in order, and the answer
-- it builds. Each step is a function of its own, with its comment and its test (tests/db/test_capture_steps.py);
-- none authorizes (the entry point has), and each names the errors it raises. plpgsql keeps their plans per session.

-- crm.capture_response(lead, warnings, follow_up, suggested): the capture response body for a lead as it stands.
DROP FUNCTION IF EXISTS crm.capture_response(uuid, jsonb, jsonb);
DROP FUNCTION IF EXISTS crm.capture_response(uuid, jsonb, json);
DROP FUNCTION IF EXISTS crm.capture_response(uuid, jsonb, json, jsonb);
CREATE FUNCTION crm.capture_response(p_lead_id uuid, p_warnings jsonb DEFAULT '[]', p_follow_up json DEFAULT NULL,
                                     p_suggested jsonb DEFAULT '[]')
RETURNS json
LANGUAGE plpgsql
STABLE
SET search_path = ''
AS $$
BEGIN
    RETURN (
    SELECT pg_catalog.json_build_object(   -- json: the keys in the order of the API's CaptureResponse
        'success', true,
        'lead_id', l.lead_id,
        'assigned_agent', CASE WHEN g.agent_id IS NOT NULL THEN
            pg_catalog.json_build_object('agent_id', g.agent_id, 'name', g.full_name, 'phone', g.phone) END,
        'lead_score', l.score,
        'next_follow_up', coalesce(p_follow_up ->> 'due_at',
            (SELECT min(t.due_at)::text FROM crm.follow_up_tasks AS t WHERE t.lead_id = l.lead_id AND t.status = 'open'))::timestamptz,
        'suggested_properties', coalesce(p_suggested, '[]'::jsonb),
        'queued', l.queued_at IS NOT NULL,
        'duplicate_of', CASE WHEN d.lead_id IS NOT NULL THEN
            pg_catalog.json_build_object('lead_id', d.lead_id, 'source_type', d.source_type, 'created_at', d.created_at) END,
        'score_breakdown', l.score_breakdown,
        'assignment', CASE WHEN l.assignment_decision IS NOT NULL THEN pg_catalog.json_build_object(
            'method', l.assignment_decision ->> 'method',
            'kind', l.assignment_decision ->> 'kind',
            'winner_rank', (l.assignment_decision ->> 'winner_rank')::integer,
            'eligible_count', (l.assignment_decision ->> 'eligible_count')::integer) END,
        'offer', CASE WHEN a.respond_by IS NOT NULL THEN pg_catalog.json_build_object(
            'respond_by', a.respond_by, 'offer_round', a.offer_round, 'accepted_at', a.accepted_at,
            'available_now', coalesce((l.assignment_decision ->> 'available_now')::boolean, true)) END,
        'follow_up', p_follow_up,
        'warnings', coalesce(p_warnings, '[]'::jsonb))
      FROM crm.leads AS l
      LEFT JOIN crm.lead_assignments AS a ON a.lead_id = l.lead_id AND a.released_at IS NULL
      LEFT JOIN crm.agents AS g ON g.agent_id = a.agent_id
      LEFT JOIN crm.leads AS d ON d.lead_id = l.duplicate_of
     WHERE l.lead_id = p_lead_id);
END
$$;
COMMENT ON FUNCTION crm.capture_response(uuid, jsonb, json, jsonb) IS
    'The body POST /api/v1/leads/capture answers with, built from the lead as stored (the brief''s fields first, then '
    'queued, duplicate_of, score_breakdown, assignment, offer, follow_up, warnings).';

-- crm.capture_suggestions(lead, limit): the listing ids suggested for a new lead (crm.suggest_properties), asked in
-- the capture's own transaction; none asked (NULL ids, no warning) when p_limit is NULL. A failure of the search
-- never fails the capture: it gives no ids and the warning suggestions_unavailable (a subtransaction: the search's
-- own work is undone, the capture's is kept).
CREATE OR REPLACE FUNCTION crm.capture_suggestions(p_lead_id uuid, p_limit integer,
                                                   OUT property_ids jsonb, OUT warnings jsonb)
LANGUAGE plpgsql
SET search_path = ''
AS $$
BEGIN
    warnings := '[]';
    IF p_limit IS NULL THEN
        RETURN;
    END IF;
    BEGIN
        property_ids := (SELECT coalesce(pg_catalog.jsonb_agg(s.property_id), '[]'::jsonb)
                           FROM crm.suggest_properties(p_lead_id, p_limit) AS s);
    EXCEPTION WHEN OTHERS THEN
        property_ids := '[]';
        warnings := pg_catalog.jsonb_build_array(crm.capture_warning('suggestions_unavailable', 'suggested_properties',
            'The listing search failed; the lead is stored and assigned without suggestions.'));
    END;
END
$$;
COMMENT ON FUNCTION crm.capture_suggestions(uuid, integer) IS
    'Capture step: up to p_limit suggested listing ids for the new lead (crm.suggest_properties; none asked when '
    'p_limit is NULL); on a failure of the search, none and the warning suggestions_unavailable, the capture going on.';

-- crm.capture_warning(code, field, detail)
CREATE OR REPLACE FUNCTION crm.capture_warning(p_code text, p_field text, p_detail text)
RETURNS jsonb
LANGUAGE sql
IMMUTABLE
SET search_path = ''
AS $$
    SELECT pg_catalog.jsonb_build_object('code', p_code, 'field', p_field, 'detail', p_detail)
$$;
COMMENT ON FUNCTION crm.capture_warning(text, text, text) IS 'One entry of a capture response''s warnings list.';

-- crm.capture_replay(lead, source, external_id): the first answer for a portal lead id sent again.
DROP FUNCTION IF EXISTS crm.capture_replay(uuid, text, text);
CREATE FUNCTION crm.capture_replay(p_lead_id uuid, p_source text, p_external_id text)
RETURNS json
LANGUAGE sql
STABLE
SET search_path = ''
AS $$
    SELECT coalesce(
        (SELECT pg_catalog.json_build_object('status', k.response_status, 'replayed', true, 'body', k.response_body)
           FROM crm.idempotency_keys AS k
          WHERE k.scope = 'capture_external:' || p_source AND k.idempotency_key = p_external_id),
        -- the receipt expired: answer with the lead as it stands
        (SELECT pg_catalog.json_build_object('status', CASE WHEN (r ->> 'queued')::boolean THEN 202 ELSE 201 END,
                                              'replayed', true, 'body', r)
           FROM crm.capture_response(p_lead_id) AS r))
$$;
COMMENT ON FUNCTION crm.capture_replay(uuid, text, text) IS
    'Answer to a capture whose (source, external_id) already exists: the stored first response, or the lead as it stands '
    'once that receipt has expired.';

-- crm.raise_duplicate(lead): PT409 duplicate_lead naming the existing lead.
CREATE OR REPLACE FUNCTION crm.raise_duplicate(p_existing crm.leads)
RETURNS void
LANGUAGE plpgsql
SET search_path = ''
AS $$
BEGIN
    RAISE EXCEPTION 'a lead with this phone already came from %', p_existing.source_type
        USING ERRCODE = 'PT409', CONSTRAINT = 'duplicate_lead',
              DETAIL = pg_catalog.json_build_object('existing_lead_id', p_existing.lead_id,
                                                    'source_type', p_existing.source_type,
                                                    'created_at', p_existing.created_at)::text,
              HINT = 'Update the existing lead instead of capturing it again.';
END
$$;
COMMENT ON FUNCTION crm.raise_duplicate(crm.leads) IS 'Raises PT409 duplicate_lead with the existing lead''s id, source and creation time.';

-- crm.claim_dead_letter(id): locks the dead letter a capture replays, so two replays of one cannot both store a
-- lead. Errors: PT404 dead_letter_not_found, PT409 dead_letter_replayed (DETAIL names the lead it became).
CREATE OR REPLACE FUNCTION crm.claim_dead_letter(p_dead_letter_id uuid)
RETURNS void
LANGUAGE plpgsql
SET search_path = ''
AS $$
DECLARE
    v_letter crm.capture_dead_letters;
BEGIN
    SELECT * INTO v_letter FROM crm.capture_dead_letters AS d WHERE d.dead_letter_id = p_dead_letter_id FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'dead letter % does not exist', p_dead_letter_id
            USING ERRCODE = 'PT404', CONSTRAINT = 'dead_letter_not_found',
                  DETAIL = pg_catalog.json_build_object('dead_letter_id', p_dead_letter_id)::text;
    END IF;
    IF v_letter.replayed_at IS NOT NULL THEN
        RAISE EXCEPTION 'dead letter % was already replayed', p_dead_letter_id
            USING ERRCODE = 'PT409', CONSTRAINT = 'dead_letter_replayed',
                  DETAIL = pg_catalog.json_build_object('lead_id', v_letter.replayed_lead_id)::text;
    END IF;
END
$$;
COMMENT ON FUNCTION crm.claim_dead_letter(uuid) IS
    'Capture step: row-locks the dead letter being replayed. Errors: PT404 dead_letter_not_found, PT409 '
    'dead_letter_replayed.';

-- crm.capture_receipt(key, hash): the first answer to a capture sent with this Idempotency-Key, or NULL when the
-- key is new (or NULL). A concurrent first request with the key is waited for (an advisory lock held to commit).
-- Errors: PT422 idempotency_key_reused (the key came with a different request; DETAIL names the first lead).
DROP FUNCTION IF EXISTS crm.capture_receipt(text, text);
CREATE FUNCTION crm.capture_receipt(p_idempotency_key text, p_request_hash text)
RETURNS json
LANGUAGE plpgsql
SET search_path = ''
AS $$
DECLARE
    v_receipt crm.idempotency_keys;
BEGIN
    IF p_idempotency_key IS NULL THEN
        RETURN NULL;
    END IF;
    PERFORM pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtextextended('capture:' || p_idempotency_key, 0));
    SELECT * INTO v_receipt FROM crm.idempotency_keys AS k
     WHERE k.scope = 'capture' AND k.idempotency_key = p_idempotency_key;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    IF v_receipt.request_hash <> p_request_hash THEN
        RAISE EXCEPTION 'Idempotency-Key % was used for a different request', p_idempotency_key
            USING ERRCODE = 'PT422', CONSTRAINT = 'idempotency_key_reused',
                  DETAIL = pg_catalog.json_build_object('lead_id', v_receipt.lead_id)::text;
    END IF;
    RETURN pg_catalog.json_build_object('status', v_receipt.response_status, 'replayed', true,
                                        'body', v_receipt.response_body);
END
$$;
COMMENT ON FUNCTION crm.capture_receipt(text, text) IS
    'Capture step: the stored first answer for an Idempotency-Key ({"status", "replayed": true, "body"}), NULL for a new '
    'key; waits for a concurrent first use. Errors: PT422 idempotency_key_reused.';

-- crm.require_source(source, accepting): refuses a source that is not a row of crm.lead_sources and, when
-- p_accepting, one whose is_active is false; returns is_active. Errors: PT422 unknown_source, PT422 source_inactive.
DROP FUNCTION IF EXISTS crm.require_source(text, boolean);
CREATE FUNCTION crm.require_source(p_source text, p_accepting boolean DEFAULT true)
RETURNS boolean
LANGUAGE plpgsql
STABLE
SET search_path = ''
AS $$
DECLARE
    v_active boolean;
BEGIN
    SELECT s.is_active INTO v_active FROM crm.lead_sources AS s WHERE s.source_type = p_source;
    IF v_active IS NULL THEN
        RAISE EXCEPTION 'unknown source_type %', p_source USING ERRCODE = 'PT422', CONSTRAINT = 'unknown_source',
            DETAIL = pg_catalog.json_build_object('source_type', p_source)::text;
    ELSIF p_accepting AND NOT v_active THEN
        RAISE EXCEPTION 'source % is not accepting leads', p_source USING ERRCODE = 'PT422', CONSTRAINT = 'source_inactive',
            DETAIL = pg_catalog.json_build_object('source_type', p_source)::text;
    END IF;
    RETURN v_active;
END
$$;
COMMENT ON FUNCTION crm.require_source(text, boolean) IS
    'Capture step (and scoring''s check): the source must be a row of crm.lead_sources, and active when p_accepting; '
    'returns its is_active. '
    'Errors: PT422 unknown_source, PT422 source_inactive.';

-- crm.portal_resend(source, external_id): the first answer when a portal sends a lead id it sent before, else NULL.
DROP FUNCTION IF EXISTS crm.portal_resend(text, text);
CREATE FUNCTION crm.portal_resend(p_source text, p_external_id text)
RETURNS json
LANGUAGE plpgsql
STABLE
SET search_path = ''
AS $$
DECLARE
    v_lead_id uuid;
BEGIN
    IF p_external_id IS NULL THEN
        RETURN NULL;
    END IF;
    SELECT l.lead_id INTO v_lead_id FROM crm.leads AS l WHERE l.source_type = p_source AND l.external_id = p_external_id;
    RETURN CASE WHEN v_lead_id IS NOT NULL THEN crm.capture_replay(v_lead_id, p_source, p_external_id) END;
END
$$;
COMMENT ON FUNCTION crm.portal_resend(text, text) IS
    'Capture step: a (source, external_id) already stored gets its first answer (crm.capture_replay); NULL otherwise.';

-- crm.claim_phone(source, phone): one capture of a phone at a time. The second of two simultaneous captures of
-- one client (from one source or two) waits here for the first to commit, so its duplicate checks see the
-- first lead. Then refuses the same phone from the same source; returns true (the phone is this transaction's).
-- Errors: PT409 duplicate_lead.
DROP FUNCTION IF EXISTS crm.claim_phone(text, text);
CREATE FUNCTION crm.claim_phone(p_source text, p_phone text)
RETURNS boolean
LANGUAGE plpgsql
SET search_path = ''
AS $$
DECLARE
    v_existing crm.leads;
BEGIN
    PERFORM pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtextextended('capture_phone:' || p_phone, 0));
    SELECT * INTO v_existing FROM crm.leads AS l WHERE l.source_type = p_source AND l.phone = p_phone;
    IF FOUND THEN
        PERFORM crm.raise_duplicate(v_existing);
    END IF;
    RETURN true;
END
$$;
COMMENT ON FUNCTION crm.claim_phone(text, text) IS
    'Capture step: takes the transaction advisory lock of the phone, then refuses a lead with the same phone from the '
    'same source; true once claimed. Errors: PT409 duplicate_lead.';

-- crm.map_capture_input(lead_data, source_details): what the client typed, mapped to our keys by exact lookups.
-- What does not map is kept as typed (unmatched_input, stored on the lead) with a warning each, and is not scored.
CREATE OR REPLACE FUNCTION crm.map_capture_input(
    p_data        jsonb,
    p_details     jsonb,
    OUT nationality         char(2),
    OUT language_preference text,
    OUT preferred_areas     text[],
    OUT source_property_id  uuid,
    OUT referrer_agent_id   uuid,
    OUT unmatched_input     jsonb,
    OUT warnings            jsonb
)
LANGUAGE plpgsql
STABLE
SET search_path = ''
AS $$
DECLARE
    v_area text;
    v_code text;
BEGIN
    preferred_areas := '{}';
    unmatched_input := '{}';
    warnings := '[]';
    IF nullif(p_data ->> 'nationality', '') IS NOT NULL THEN
        nationality := crm.country_code(p_data ->> 'nationality');
        IF nationality IS NULL THEN
            warnings := warnings || crm.capture_warning('nationality_unrecognized', 'lead_data.nationality',
                'Nationality "' || (p_data ->> 'nationality') || '" is not a known country; stored as given, not scored.');
            unmatched_input := unmatched_input || pg_catalog.jsonb_build_object('nationality', p_data -> 'nationality');
        END IF;
    END IF;
    IF nullif(p_data ->> 'language_preference', '') IS NOT NULL THEN
        language_preference := crm.language_key(p_data ->> 'language_preference');
        IF language_preference IS NULL THEN
            warnings := warnings || crm.capture_warning('language_unrecognized', 'lead_data.language_preference',
                'Language "' || (p_data ->> 'language_preference') || '" is not one we route on; stored as given.');
            unmatched_input := unmatched_input || pg_catalog.jsonb_build_object('language_preference', p_data -> 'language_preference');
        END IF;
    END IF;
    FOR v_area IN SELECT pg_catalog.jsonb_array_elements_text(coalesce(p_data -> 'preferred_areas', '[]')) LOOP
        v_code := crm.area_code(v_area);
        IF v_code IS NULL THEN
            warnings := warnings || crm.capture_warning('area_unrecognized', 'lead_data.preferred_areas',
                'Area "' || v_area || '" is not a known Dubai area; stored as given.');
            unmatched_input := pg_catalog.jsonb_set(unmatched_input, '{preferred_areas}',
                coalesce(unmatched_input -> 'preferred_areas', '[]') || pg_catalog.to_jsonb(v_area));
        ELSIF NOT v_code = ANY (preferred_areas) THEN
            preferred_areas := preferred_areas || v_code;
        END IF;
    END LOOP;
    IF p_details ->> 'property_id' IS NOT NULL THEN
        SELECT p.property_id INTO source_property_id FROM crm.properties AS p WHERE p.property_id = (p_details ->> 'property_id')::uuid;
        IF source_property_id IS NULL THEN
            warnings := warnings || crm.capture_warning('property_unknown', 'source_details.property_id',
                'Listing ' || (p_details ->> 'property_id') || ' is not one of ours; stored as given.');
            unmatched_input := unmatched_input || pg_catalog.jsonb_build_object('property_id', p_details -> 'property_id');
        END IF;
    END IF;
    IF p_details ->> 'referrer_agent_id' IS NOT NULL THEN
        SELECT g.agent_id INTO referrer_agent_id FROM crm.agents AS g WHERE g.agent_id = (p_details ->> 'referrer_agent_id')::uuid;
        IF referrer_agent_id IS NULL THEN
            warnings := warnings || crm.capture_warning('referrer_agent_unknown', 'source_details.referrer_agent_id',
                'Agent ' || (p_details ->> 'referrer_agent_id') || ' is not one of ours; stored as given.');
            unmatched_input := unmatched_input || pg_catalog.jsonb_build_object('referrer_agent_id', p_details -> 'referrer_agent_id');
        END IF;
    END IF;
END
$$;
COMMENT ON FUNCTION crm.map_capture_input(jsonb, jsonb) IS
    'Capture step: nationality, language, areas, listing and referrer as typed mapped to our keys (crm.country_code, '
    'crm.language_key, crm.area_code, crm.properties, crm.agents); what does not map is returned in unmatched_input, each with '
    'a warning (nationality_unrecognized, language_unrecognized, area_unrecognized, property_unknown, referrer_agent_unknown).';

-- crm.earlier_inquiry(phone, source, now): the first lead of the same client from another source within the
-- duplicate window (a duplicate's own first lead when the match is itself a duplicate), and its current agent.
CREATE OR REPLACE FUNCTION crm.earlier_inquiry(p_phone text, p_source text, p_now timestamptz,
                                               OUT lead_id uuid, OUT agent_id uuid)
LANGUAGE plpgsql
STABLE
SET search_path = ''
AS $$
BEGIN
    SELECT coalesce(l.duplicate_of, l.lead_id) INTO lead_id
      FROM crm.leads AS l
     WHERE l.phone = p_phone AND l.source_type <> p_source
       AND l.created_at >= p_now - crm.setting_interval('duplicate_window')
     ORDER BY l.created_at
     LIMIT 1;
    IF lead_id IS NOT NULL THEN
        SELECT a.agent_id INTO agent_id FROM crm.lead_assignments AS a WHERE a.lead_id = earlier_inquiry.lead_id AND a.released_at IS NULL;
    END IF;
END
$$;
COMMENT ON FUNCTION crm.earlier_inquiry(text, text, timestamptz) IS
    'Capture step: the first lead of the same phone from another source within the duplicate_window setting, and its '
    'current agent (NULL when none).';

-- crm.choose_capture_agent(property_type, areas, language, earlier agent, now): chooses and locks the agent of a
-- new lead (crm.choose_agent), preferring the agent of the client's earlier lead. The decision's kind is
-- duplicate_link when that agent took it, else auto; when that agent had no free capacity, a warning says so.
CREATE OR REPLACE FUNCTION crm.choose_capture_agent(p_property_type crm.property_type, p_areas text[], p_language text,
                                                    p_earlier_agent uuid, p_now timestamptz,
                                                    OUT decision jsonb, OUT warnings jsonb)
LANGUAGE plpgsql
SET search_path = ''
AS $$
BEGIN
    decision := crm.choose_agent(p_property_type, p_areas, p_language, p_earlier_agent, NULL, p_now);
    warnings := '[]';
    IF p_earlier_agent IS NULL THEN
        decision := decision || '{"kind": "auto"}';
    ELSIF (decision ->> 'agent_id')::uuid IS NOT DISTINCT FROM p_earlier_agent THEN
        decision := decision || '{"kind": "duplicate_link"}';
    ELSE
        warnings := pg_catalog.jsonb_build_array(crm.capture_warning('duplicate_agent_unavailable', NULL,
            'The agent of the earlier lead has no free capacity; this lead went to the best available agent.'));
        decision := decision || '{"kind": "auto"}';
    END IF;
END
$$;
COMMENT ON FUNCTION crm.choose_capture_agent(crm.property_type, text[], text, uuid, timestamptz) IS
    'Capture step: crm.choose_agent with the earlier lead''s agent preferred; kind duplicate_link or auto, and the '
    'duplicate_agent_unavailable warning when the earlier agent was full.';

-- crm.store_captured_lead(input, mapped inputs, score, decision, earlier lead, now, actor): inserts the lead (its
-- creator: p_actor, the capture's crm.actor()) and its areas and returns its id; NULL when a concurrent capture of
-- the same lead (same source and phone, or same external id) committed first. The lead is queued when the decision
-- has no agent.
DROP FUNCTION IF EXISTS crm.store_captured_lead(jsonb, char, text, text[], uuid, uuid, jsonb, jsonb, jsonb, uuid,
                                                timestamptz);
DROP FUNCTION IF EXISTS crm.store_captured_lead(jsonb, char, text, text[], uuid, uuid, jsonb, jsonb, jsonb, uuid,
                                                timestamptz, text);
CREATE FUNCTION crm.store_captured_lead(
    p_input        jsonb,
    p_nationality  char(2),
    p_language     text,
    p_areas        text[],
    p_property_id  uuid,
    p_referrer_id  uuid,
    p_unmatched    jsonb,
    p_score        jsonb,
    p_decision     jsonb,
    p_earlier_lead uuid,
    p_now          timestamptz,
    p_actor        text
)
RETURNS uuid
LANGUAGE plpgsql
SET search_path = ''
AS $$
DECLARE
    v_data    jsonb := coalesce(p_input -> 'lead_data', '{}'::jsonb);
    v_details jsonb := coalesce(p_input -> 'source_details', '{}'::jsonb);
    v_lead_id uuid;
BEGIN
    INSERT INTO crm.leads (
        source_type, external_id, first_name, last_name, email, phone, nationality, language_preference,
        budget_min, budget_max, property_type, score, score_breakdown, campaign_id, utm_source, utm_medium,
        utm_campaign, referrer_agent_id, source_property_id, duplicate_of, queued_at, assignment_decision,
        unmatched_input, created_at, updated_at, created_by)
    VALUES (
        p_input ->> 'source_type', nullif(v_details ->> 'external_id', ''), v_data ->> 'first_name',
        v_data ->> 'last_name', v_data ->> 'email', v_data ->> 'phone', p_nationality, p_language,
        (v_data ->> 'budget_min')::numeric, (v_data ->> 'budget_max')::numeric,
        (v_data ->> 'property_type')::crm.property_type, (p_score ->> 'score')::smallint, p_score -> 'breakdown',
        v_details ->> 'campaign_id', v_details ->> 'utm_source', v_details ->> 'utm_medium', v_details ->> 'utm_campaign',
        p_referrer_id, p_property_id, p_earlier_lead,
        CASE WHEN p_decision ->> 'agent_id' IS NULL THEN p_now END, p_decision, p_unmatched, p_now, p_now, p_actor)
    ON CONFLICT DO NOTHING
    RETURNING lead_id INTO v_lead_id;
    IF v_lead_id IS NOT NULL AND cardinality(p_areas) > 0 THEN
        INSERT INTO crm.lead_preferred_areas (lead_id, area_code) SELECT v_lead_id, pg_catalog.unnest(p_areas);
    END IF;
    RETURN v_lead_id;
END
$$;
COMMENT ON FUNCTION crm.store_captured_lead(jsonb, char, text, text[], uuid, uuid, jsonb, jsonb, jsonb, uuid, timestamptz,
                                           text) IS
    'Capture step: inserts the lead (queued when the decision has no agent; created_by p_actor) and its preferred '
    'areas; NULL when a concurrent capture of the same lead committed first (ON CONFLICT DO NOTHING on its unique '
    'keys).';

-- crm.capture_race_lost(source, external_id, phone): the answer for a capture whose insert lost the race to a
-- concurrent capture of the same lead: that capture's answer for a portal lead id, else the duplicate conflict.
-- Errors: PT409 duplicate_lead.
DROP FUNCTION IF EXISTS crm.capture_race_lost(text, text, text);
CREATE FUNCTION crm.capture_race_lost(p_source text, p_external_id text, p_phone text)
RETURNS json
LANGUAGE plpgsql
SET search_path = ''
AS $$
DECLARE
    v_answer   json := crm.portal_resend(p_source, p_external_id);
    v_existing crm.leads;
BEGIN
    IF v_answer IS NOT NULL THEN
        RETURN v_answer;
    END IF;
    SELECT * INTO v_existing FROM crm.leads AS l WHERE l.source_type = p_source AND l.phone = p_phone;
    PERFORM crm.raise_duplicate(v_existing);
    RETURN NULL;   -- not reached
END
$$;
COMMENT ON FUNCTION crm.capture_race_lost(text, text, text) IS
    'Capture step: after an insert lost to a concurrent capture, the first answer for the same portal lead id, else '
    'PT409 duplicate_lead.';

-- crm.assign_captured_lead(lead, decision, earlier lead, score, now, actor): records the assignment the decision
-- made (its counters and history follow by trigger) and books the first follow-up, both by p_actor (the capture's
-- crm.actor()); returns the follow-up, NULL when the lead is queued.
DROP FUNCTION IF EXISTS crm.assign_captured_lead(uuid, jsonb, uuid, integer, timestamptz);
DROP FUNCTION IF EXISTS crm.assign_captured_lead(uuid, jsonb, uuid, integer, timestamptz, text);
CREATE FUNCTION crm.assign_captured_lead(p_lead_id uuid, p_decision jsonb, p_earlier_lead uuid,
                                         p_score integer, p_now timestamptz, p_actor text)
RETURNS json
LANGUAGE plpgsql
SET search_path = ''
AS $$
DECLARE
    v_agent uuid := (p_decision ->> 'agent_id')::uuid;
BEGIN
    IF v_agent IS NULL THEN
        RETURN NULL;
    END IF;
    INSERT INTO crm.lead_assignments (lead_id, agent_id, kind, reason, assigned_at, assigned_by)
    VALUES (p_lead_id, v_agent, (p_decision ->> 'kind')::crm.assignment_kind,
            CASE WHEN p_decision ->> 'kind' = 'duplicate_link' THEN 'same client as lead ' || p_earlier_lead END, p_now,
            p_actor);   -- NULL: lead_assignments_10_check_new asks crm.actor()
    RETURN crm.schedule_initial_follow_up(p_lead_id, v_agent, p_score, p_now, p_actor);
END
$$;
COMMENT ON FUNCTION crm.assign_captured_lead(uuid, jsonb, uuid, integer, timestamptz, text) IS
    'Capture step: the assignment row of the decision''s agent (kind auto or duplicate_link) and the first follow-up '
    '(crm.schedule_initial_follow_up); NULL for a queued lead.';

-- crm.note_duplicate_inquiry(earlier lead, lead, source, agent, now): tells the client's earlier lead that the
-- client inquired again, as a duplicate_inquiry activity naming the new lead and its agent, and returns the
-- activity's id. Nothing (NULL) without one.
DROP FUNCTION IF EXISTS crm.note_duplicate_inquiry(uuid, uuid, text, uuid, timestamptz);
CREATE FUNCTION crm.note_duplicate_inquiry(p_earlier_lead uuid, p_lead_id uuid, p_source text,
                                           p_agent_id uuid, p_now timestamptz)
RETURNS uuid
LANGUAGE plpgsql
SET search_path = ''
AS $$
DECLARE
    v_activity uuid;
BEGIN
    IF p_earlier_lead IS NULL THEN
        RETURN NULL;
    END IF;
    INSERT INTO crm.lead_activities (lead_id, activity_type, notes, details, occurred_at)
    VALUES (p_earlier_lead, 'duplicate_inquiry', 'The same client inquired again through ' || p_source || '.',
            pg_catalog.jsonb_build_object('duplicate_lead_id', p_lead_id, 'source_type', p_source, 'agent_id', p_agent_id),
            p_now)
    RETURNING activity_id INTO v_activity;
    RETURN v_activity;
END
$$;
COMMENT ON FUNCTION crm.note_duplicate_inquiry(uuid, uuid, text, uuid, timestamptz) IS
    'Capture step: a duplicate_inquiry activity on the client''s earlier lead naming the new lead, its source and agent; '
    'returns its activity_id (NULL without an earlier lead).';

-- crm.remember_capture(key, source, external_id, hash, status, body, lead, dead letter, now): keeps the answer for
-- retries (by Idempotency-Key and by portal lead id) and marks a replayed dead letter as done. Returns whether a
-- receipt was kept.
DROP FUNCTION IF EXISTS crm.remember_capture(text, text, text, text, integer, jsonb, uuid, uuid, timestamptz);
DROP FUNCTION IF EXISTS crm.remember_capture(text, text, text, text, integer, json, uuid, uuid, timestamptz);
CREATE FUNCTION crm.remember_capture(p_idempotency_key text, p_source text, p_external_id text,
                                     p_request_hash text, p_status integer, p_body json, p_lead_id uuid,
                                     p_dead_letter_id uuid, p_now timestamptz)
RETURNS boolean
LANGUAGE plpgsql
SET search_path = ''
AS $$
BEGIN
    IF p_idempotency_key IS NOT NULL THEN
        INSERT INTO crm.idempotency_keys (scope, idempotency_key, request_hash, response_status, response_body, lead_id)
        VALUES ('capture', p_idempotency_key, p_request_hash, p_status, p_body, p_lead_id);
    END IF;
    IF p_external_id IS NOT NULL THEN
        INSERT INTO crm.idempotency_keys (scope, idempotency_key, request_hash, response_status, response_body, lead_id)
        VALUES ('capture_external:' || p_source, p_external_id, p_request_hash, p_status, p_body, p_lead_id)
        ON CONFLICT DO NOTHING;
    END IF;
    IF p_dead_letter_id IS NOT NULL THEN
        UPDATE crm.capture_dead_letters SET replayed_at = p_now, replayed_lead_id = p_lead_id
         WHERE dead_letter_id = p_dead_letter_id;
    END IF;
    RETURN p_idempotency_key IS NOT NULL OR p_external_id IS NOT NULL;
END
$$;
COMMENT ON FUNCTION crm.remember_capture(text, text, text, text, integer, json, uuid, uuid, timestamptz) IS
    'Capture step: the receipts that make a retry (same Idempotency-Key, same source + external_id) get the first '
    'answer, and the replayed dead letter marked with the lead it became; true when a receipt was kept.';

