-- Lead capture: api.capture_lead (POST /api/v1/leads/capture) and the answer it builds.
-- The api functions are SECURITY DEFINER: the app's login reaches crm only through them and row-level security.

-- crm.capture_response(lead, warnings, follow_up): the capture response body for a lead as it stands.
CREATE OR REPLACE FUNCTION crm.capture_response(p_lead_id uuid, p_warnings jsonb DEFAULT '[]', p_follow_up jsonb DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql
STABLE
SET search_path = ''
AS $$
BEGIN
    RETURN (
    SELECT pg_catalog.jsonb_build_object(
        'success', true,
        'lead_id', l.lead_id,
        'assigned_agent', CASE WHEN g.agent_id IS NOT NULL THEN
            pg_catalog.jsonb_build_object('agent_id', g.agent_id, 'name', g.full_name, 'phone', g.phone) END,
        'lead_score', l.score,
        'next_follow_up', coalesce(p_follow_up ->> 'due_at',
            (SELECT min(t.due_at)::text FROM crm.follow_up_tasks AS t WHERE t.lead_id = l.lead_id AND t.status = 'open'))::timestamptz,
        'suggested_properties', '[]'::jsonb,
        'queued', l.queued_at IS NOT NULL,
        'duplicate_of', CASE WHEN d.lead_id IS NOT NULL THEN
            pg_catalog.jsonb_build_object('lead_id', d.lead_id, 'source_type', d.source_type, 'created_at', d.created_at) END,
        'score_breakdown', l.score_breakdown,
        'assignment', CASE WHEN l.assignment_decision IS NOT NULL THEN pg_catalog.jsonb_build_object(
            'method', l.assignment_decision ->> 'method',
            'kind', l.assignment_decision ->> 'kind',
            'winner_rank', (l.assignment_decision ->> 'winner_rank')::integer,
            'eligible_count', (l.assignment_decision ->> 'eligible_count')::integer) END,
        'follow_up', p_follow_up,
        'warnings', coalesce(p_warnings, '[]'::jsonb))
      FROM crm.leads AS l
      LEFT JOIN crm.lead_assignments AS a ON a.lead_id = l.lead_id AND a.released_at IS NULL
      LEFT JOIN crm.agents AS g ON g.agent_id = a.agent_id
      LEFT JOIN crm.leads AS d ON d.lead_id = l.duplicate_of
     WHERE l.lead_id = p_lead_id);
END
$$;
COMMENT ON FUNCTION crm.capture_response(uuid, jsonb, jsonb) IS
    'The body POST /api/v1/leads/capture answers with, built from the lead as stored (the brief''s fields first, then '
    'queued, duplicate_of, score_breakdown, assignment, follow_up, warnings).';

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

-- api.capture_lead(input, actor, idempotency_key, dead_letter_id, now)
-- p_input is the request body normalised by the API: phone in E.164, e-mail lower case, names trimmed,
-- budgets as numbers; nationality, language and areas as typed (mapped here, exactly). Returns
-- {"status": 201 | 202, "replayed": bool, "body": {...}}: 201 assigned, 202 stored and queued for an agent.
-- A retry (same Idempotency-Key, or same source + external_id) returns the first answer and writes nothing.
-- Errors: PT409 duplicate_lead (same phone and source; DETAIL names the existing lead),
--         PT422 idempotency_key_reused (same key, different request), PT422 unknown_source, PT422 source_inactive,
--         PT404 dead_letter_not_found, PT409 dead_letter_replayed; constraint violations of crm.leads (422).
-- (the request hash parameter it once had is gone: the hash is computed here, for every caller alike)
DROP FUNCTION IF EXISTS api.capture_lead(jsonb, text, text, text, uuid, timestamptz);
CREATE OR REPLACE FUNCTION api.capture_lead(
    p_input           jsonb,
    p_actor           text,
    p_idempotency_key text DEFAULT NULL,
    p_dead_letter_id  uuid DEFAULT NULL,
    p_now             timestamptz DEFAULT NULL
)
RETURNS jsonb
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = ''
AS $$
DECLARE
    v_now        timestamptz := coalesce(p_now, now());
    v_data       jsonb := coalesce(p_input -> 'lead_data', '{}'::jsonb);
    v_details    jsonb := coalesce(p_input -> 'source_details', '{}'::jsonb);
    v_source     text := p_input ->> 'source_type';
    v_phone      text := v_data ->> 'phone';
    v_external   text := nullif(v_details ->> 'external_id', '');
    v_hash       text;   -- md5 of the normalised request (jsonb text is canonical), when a retry can be asked
    v_active     boolean;
    v_receipt    crm.idempotency_keys;
    v_existing   crm.leads;
    v_first      crm.leads;
    v_first_agent uuid;
    v_nationality char(2);
    v_language   text;
    v_areas      text[] := '{}';
    v_area       text;
    v_code       text;
    v_property   uuid;
    v_referrer   uuid;
    v_warnings   jsonb := coalesce(p_input -> 'warnings', '[]');   -- the API's normalisation notes
    v_unmatched  jsonb := '{}';
    v_score      jsonb;
    v_decision   jsonb;
    v_lead_id    uuid;
    v_follow_up  jsonb;
    v_body       jsonb;
    v_status     integer;
BEGIN
    PERFORM crm.authorize('capture');
    PERFORM crm.set_actor(p_actor);

    IF p_dead_letter_id IS NOT NULL THEN
        PERFORM 1 FROM crm.capture_dead_letters AS d WHERE d.dead_letter_id = p_dead_letter_id FOR UPDATE;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'dead letter % does not exist', p_dead_letter_id
                USING ERRCODE = 'PT404', CONSTRAINT = 'dead_letter_not_found';
        END IF;
        IF EXISTS (SELECT 1 FROM crm.capture_dead_letters AS d
                    WHERE d.dead_letter_id = p_dead_letter_id AND d.replayed_at IS NOT NULL) THEN
            RAISE EXCEPTION 'dead letter % was already replayed', p_dead_letter_id
                USING ERRCODE = 'PT409', CONSTRAINT = 'dead_letter_replayed',
                      DETAIL = (SELECT pg_catalog.json_build_object('lead_id', d.replayed_lead_id)::text
                                  FROM crm.capture_dead_letters AS d WHERE d.dead_letter_id = p_dead_letter_id);
        END IF;
    END IF;

    -- 1. a retry with the same Idempotency-Key: the first answer (concurrent retries wait for the first)
    IF p_idempotency_key IS NOT NULL OR v_external IS NOT NULL THEN
        v_hash := pg_catalog.md5(p_input::text);
    END IF;
    IF p_idempotency_key IS NOT NULL THEN
        PERFORM pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtextextended('capture:' || p_idempotency_key, 0));
        SELECT * INTO v_receipt FROM crm.idempotency_keys AS k
         WHERE k.scope = 'capture' AND k.idempotency_key = p_idempotency_key;
        IF FOUND THEN
            IF v_receipt.request_hash <> v_hash THEN
                RAISE EXCEPTION 'Idempotency-Key % was used for a different request', p_idempotency_key
                    USING ERRCODE = 'PT422', CONSTRAINT = 'idempotency_key_reused',
                          DETAIL = pg_catalog.json_build_object('lead_id', v_receipt.lead_id)::text;
            END IF;
            RETURN pg_catalog.jsonb_build_object('status', v_receipt.response_status, 'replayed', true,
                                                 'body', v_receipt.response_body);
        END IF;
    END IF;

    -- 2. the source
    SELECT s.is_active INTO v_active FROM crm.lead_sources AS s WHERE s.source_type = v_source;
    IF v_active IS NULL THEN
        RAISE EXCEPTION 'unknown source_type %', v_source USING ERRCODE = 'PT422', CONSTRAINT = 'unknown_source';
    ELSIF NOT v_active THEN
        RAISE EXCEPTION 'source % is not accepting leads', v_source USING ERRCODE = 'PT422', CONSTRAINT = 'source_inactive';
    END IF;

    -- 3. a portal re-sending its own lead id: the first answer
    IF v_external IS NOT NULL THEN
        SELECT * INTO v_existing FROM crm.leads AS l WHERE l.source_type = v_source AND l.external_id = v_external;
        IF FOUND THEN
            RETURN crm.capture_replay(v_existing.lead_id, v_source, v_external);
        END IF;
    END IF;

    -- one capture of a phone at a time: the second of two simultaneous captures of one client (from one source or
    -- two) waits here for the first to commit, and its duplicate checks below then see the first lead
    PERFORM pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtextextended('capture_phone:' || v_phone, 0));

    -- 4. same phone, same source: a conflict naming the existing lead
    SELECT * INTO v_existing FROM crm.leads AS l WHERE l.source_type = v_source AND l.phone = v_phone;
    IF FOUND THEN
        PERFORM crm.raise_duplicate(v_existing);
    END IF;

    -- 5. map what was typed to our keys; keep what does not map, with a warning
    IF nullif(v_data ->> 'nationality', '') IS NOT NULL THEN
        v_nationality := crm.country_code(v_data ->> 'nationality');
        IF v_nationality IS NULL THEN
            v_warnings := v_warnings || crm.capture_warning('nationality_unrecognized', 'lead_data.nationality',
                'Nationality "' || (v_data ->> 'nationality') || '" is not a known country; stored as given, not scored.');
            v_unmatched := v_unmatched || pg_catalog.jsonb_build_object('nationality', v_data -> 'nationality');
        END IF;
    END IF;
    IF nullif(v_data ->> 'language_preference', '') IS NOT NULL THEN
        v_language := crm.language_key(v_data ->> 'language_preference');
        IF v_language IS NULL THEN
            v_warnings := v_warnings || crm.capture_warning('language_unrecognized', 'lead_data.language_preference',
                'Language "' || (v_data ->> 'language_preference') || '" is not one we route on; stored as given.');
            v_unmatched := v_unmatched || pg_catalog.jsonb_build_object('language_preference', v_data -> 'language_preference');
        END IF;
    END IF;
    FOR v_area IN SELECT pg_catalog.jsonb_array_elements_text(coalesce(v_data -> 'preferred_areas', '[]')) LOOP
        v_code := crm.area_code(v_area);
        IF v_code IS NULL THEN
            v_warnings := v_warnings || crm.capture_warning('area_unrecognized', 'lead_data.preferred_areas',
                'Area "' || v_area || '" is not a known Dubai area; stored as given.');
            v_unmatched := pg_catalog.jsonb_set(v_unmatched, '{preferred_areas}',
                coalesce(v_unmatched -> 'preferred_areas', '[]') || pg_catalog.to_jsonb(v_area));
        ELSIF NOT v_code = ANY (v_areas) THEN
            v_areas := v_areas || v_code;
        END IF;
    END LOOP;
    IF v_details ->> 'property_id' IS NOT NULL THEN
        SELECT p.property_id INTO v_property FROM crm.properties AS p WHERE p.property_id = (v_details ->> 'property_id')::uuid;
        IF v_property IS NULL THEN
            v_warnings := v_warnings || crm.capture_warning('property_unknown', 'source_details.property_id',
                'Listing ' || (v_details ->> 'property_id') || ' is not one of ours; stored as given.');
            v_unmatched := v_unmatched || pg_catalog.jsonb_build_object('property_id', v_details -> 'property_id');
        END IF;
    END IF;
    IF v_details ->> 'referrer_agent_id' IS NOT NULL THEN
        SELECT g.agent_id INTO v_referrer FROM crm.agents AS g WHERE g.agent_id = (v_details ->> 'referrer_agent_id')::uuid;
        IF v_referrer IS NULL THEN
            v_warnings := v_warnings || crm.capture_warning('referrer_agent_unknown', 'source_details.referrer_agent_id',
                'Agent ' || (v_details ->> 'referrer_agent_id') || ' is not one of ours; stored as given.');
            v_unmatched := v_unmatched || pg_catalog.jsonb_build_object('referrer_agent_id', v_details -> 'referrer_agent_id');
        END IF;
    END IF;

    -- 6. the same phone from another source within the duplicate window: link to the first lead, same agent
    SELECT f.* INTO v_first
      FROM crm.leads AS l
      JOIN crm.leads AS f ON f.lead_id = coalesce(l.duplicate_of, l.lead_id)
     WHERE l.phone = v_phone AND l.source_type <> v_source
       AND l.created_at >= v_now - crm.setting_interval('duplicate_window')
     ORDER BY l.created_at
     LIMIT 1;
    IF v_first.lead_id IS NOT NULL THEN
        SELECT a.agent_id INTO v_first_agent
          FROM crm.lead_assignments AS a WHERE a.lead_id = v_first.lead_id AND a.released_at IS NULL;
    END IF;

    -- 7. score, 8. choose (and lock) the agent, 9. store
    v_score := crm.score_lead(v_source, (v_data ->> 'budget_min')::numeric, (v_data ->> 'budget_max')::numeric,
                              v_nationality, (v_data ->> 'property_type')::crm.property_type,
                              v_source = 'referral' OR v_referrer IS NOT NULL);
    v_decision := crm.choose_agent((v_data ->> 'property_type')::crm.property_type, v_areas, v_language,
                                   v_first_agent, NULL, v_now)
                  || pg_catalog.jsonb_build_object('kind', CASE WHEN v_first_agent IS NOT NULL THEN 'duplicate_link' ELSE 'auto' END);
    IF v_first_agent IS NOT NULL AND (v_decision ->> 'agent_id')::uuid IS DISTINCT FROM v_first_agent THEN
        v_warnings := v_warnings || crm.capture_warning('duplicate_agent_unavailable', NULL,
            'The agent of the earlier lead has no free capacity; this lead went to the best available agent.');
        v_decision := v_decision || '{"kind": "auto"}';
    END IF;

    INSERT INTO crm.leads (
        source_type, external_id, first_name, last_name, email, phone, nationality, language_preference,
        budget_min, budget_max, property_type, score, score_breakdown, campaign_id, utm_source, utm_medium,
        utm_campaign, referrer_agent_id, source_property_id, duplicate_of, queued_at, assignment_decision,
        unmatched_input, created_at, updated_at)
    VALUES (
        v_source, v_external, v_data ->> 'first_name', v_data ->> 'last_name', v_data ->> 'email', v_phone,
        v_nationality, v_language, (v_data ->> 'budget_min')::numeric, (v_data ->> 'budget_max')::numeric,
        (v_data ->> 'property_type')::crm.property_type, (v_score ->> 'score')::smallint, v_score -> 'breakdown',
        v_details ->> 'campaign_id', v_details ->> 'utm_source', v_details ->> 'utm_medium', v_details ->> 'utm_campaign',
        v_referrer, v_property, v_first.lead_id,
        CASE WHEN v_decision ->> 'agent_id' IS NULL THEN v_now END, v_decision, v_unmatched, v_now, v_now)
    ON CONFLICT DO NOTHING
    RETURNING lead_id INTO v_lead_id;

    IF v_lead_id IS NULL THEN
        -- a concurrent capture of the same lead committed first
        IF v_external IS NOT NULL THEN
            SELECT * INTO v_existing FROM crm.leads AS l WHERE l.source_type = v_source AND l.external_id = v_external;
            IF FOUND THEN
                RETURN crm.capture_replay(v_existing.lead_id, v_source, v_external);
            END IF;
        END IF;
        SELECT * INTO v_existing FROM crm.leads AS l WHERE l.source_type = v_source AND l.phone = v_phone;
        PERFORM crm.raise_duplicate(v_existing);
    END IF;

    IF cardinality(v_areas) > 0 THEN
        INSERT INTO crm.lead_preferred_areas (lead_id, area_code) SELECT v_lead_id, pg_catalog.unnest(v_areas);
    END IF;

    IF v_decision ->> 'agent_id' IS NOT NULL THEN
        INSERT INTO crm.lead_assignments (lead_id, agent_id, kind, reason, assigned_at)
        VALUES (v_lead_id, (v_decision ->> 'agent_id')::uuid, (v_decision ->> 'kind')::crm.assignment_kind,
                CASE WHEN v_decision ->> 'kind' = 'duplicate_link' THEN 'same client as lead ' || v_first.lead_id END, v_now);
        v_follow_up := crm.schedule_initial_follow_up(v_lead_id, (v_decision ->> 'agent_id')::uuid,
                                                      (v_score ->> 'score')::integer, v_now);
    END IF;

    IF v_first.lead_id IS NOT NULL THEN
        INSERT INTO crm.lead_activities (lead_id, activity_type, notes, details, occurred_at)
        VALUES (v_first.lead_id, 'duplicate_inquiry',
                'The same client inquired again through ' || v_source || '.',
                pg_catalog.jsonb_build_object('duplicate_lead_id', v_lead_id, 'source_type', v_source,
                                              'agent_id', v_decision ->> 'agent_id'),
                v_now);
    END IF;

    -- 10. the answer, remembered for retries
    v_body := crm.capture_response(v_lead_id, v_warnings, v_follow_up);
    v_status := CASE WHEN v_decision ->> 'agent_id' IS NULL THEN 202 ELSE 201 END;
    IF p_idempotency_key IS NOT NULL THEN
        INSERT INTO crm.idempotency_keys (scope, idempotency_key, request_hash, response_status, response_body, lead_id)
        VALUES ('capture', p_idempotency_key, v_hash, v_status, v_body, v_lead_id);
    END IF;
    IF v_external IS NOT NULL THEN
        INSERT INTO crm.idempotency_keys (scope, idempotency_key, request_hash, response_status, response_body, lead_id)
        VALUES ('capture_external:' || v_source, v_external, v_hash, v_status, v_body, v_lead_id)
        ON CONFLICT DO NOTHING;
    END IF;
    IF p_dead_letter_id IS NOT NULL THEN
        UPDATE crm.capture_dead_letters SET replayed_at = v_now, replayed_lead_id = v_lead_id
         WHERE dead_letter_id = p_dead_letter_id;
    END IF;
    RETURN pg_catalog.jsonb_build_object('status', v_status, 'replayed', false, 'body', v_body);
END
$$;
COMMENT ON FUNCTION api.capture_lead(jsonb, text, text, uuid, timestamptz) IS
    'POST /api/v1/leads/capture in one transaction: idempotency, duplicate checks, scoring, assignment (or queue), initial '
    'follow-up. Returns {"status": 201|202, "replayed", "body"}. Errors: PT409 duplicate_lead, PT422 idempotency_key_reused, '
    'PT422 unknown_source, PT422 source_inactive, PT404 dead_letter_not_found, PT409 dead_letter_replayed; crm.authorize''s. '
    'SECURITY DEFINER: duplicate detection reads every lead and assignment ranks and locks every agent, beyond any '
    'caller''s own rows.';

-- crm.capture_replay(lead, source, external_id): the first answer for a portal lead id sent again.
CREATE OR REPLACE FUNCTION crm.capture_replay(p_lead_id uuid, p_source text, p_external_id text)
RETURNS jsonb
LANGUAGE sql
STABLE
SET search_path = ''
AS $$
    SELECT coalesce(
        (SELECT pg_catalog.jsonb_build_object('status', k.response_status, 'replayed', true, 'body', k.response_body)
           FROM crm.idempotency_keys AS k
          WHERE k.scope = 'capture_external:' || p_source AND k.idempotency_key = p_external_id),
        -- the receipt expired: answer with the lead as it stands
        (SELECT pg_catalog.jsonb_build_object('status', CASE WHEN (r ->> 'queued')::boolean THEN 202 ELSE 201 END,
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
