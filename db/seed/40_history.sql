-- Demo data, part 4: the history of the planned leads (30_leads.sql), replayed through the engine in time order.
--
-- Nothing here restates a rule. The seed says what happened and when (a lead came in, the agent called, the client
-- viewed a unit, the deal closed); the engine's own functions decide what follows from it, at that moment:
--   capture        crm.capture_score (scoring), crm.assign_lead (the planned agent as the preferred one: the
--                  decision is stored as for any capture), crm.schedule_initial_follow_up (the SLA slot); the
--                  duplicates and the routed leads through api.capture_lead itself (linking, ranking, receipts)
--   interactions   api.update_lead: activity points and the response-time rule, clamping, the follow-up the
--                  interaction completes, the next one booked (crm.next_free_slot finds its slot), property
--                  interests (crm.suggest_properties picks them), status moves, closing
--   hand-over      api.reassign_lead, when Maria Santos leaves the company; then she is deactivated
--   time           jobs.run_sweeps at 04:00 Dubai time every day of the history and once at now(): the no-response
--                  penalty, escalations of follow-ups missed by more than 30 days, no-response reassignment, the
--                  balancing of overloaded agents, the performance metrics and scores
-- Each event runs at its own time: the functions get it as p_now, and crm.set_clock makes it the time the triggers
-- stamp on the status history, on closing and on the follow-ups they close. What stays the real time is what the
-- database records as its own: when a row was written (activities' created_at, the audit trail, the tasks'
-- created_at), and which actor wrote it ('seed', or 'sweep' for what the sweeps did).
--
-- A step runs at the follow-up booked for it when the lead has one (the agent works their calendar), else at its
-- wanted time; an interaction books the next step at its wanted time unless a follow-up is already pending. Open
-- leads end with the follow-up booked at their last interaction: upcoming, or missed by days, weeks or more than 30
-- days (escalated by the sweep the day it passed the threshold).
--
-- Loaded once: when the planned leads exist, the history is not replayed again (a second run changes nothing); and
-- only into a database without leads, since the sweeps it runs at past clocks would act on anyone's leads.

-- the body of a capture, as the API would send it (already normalised)
CREATE OR REPLACE FUNCTION pg_temp.capture_body(p seed_lead)
RETURNS jsonb
LANGUAGE sql STABLE
AS $$
    SELECT jsonb_build_object(
        'source_type', p.source_type,
        'lead_data', jsonb_strip_nulls(jsonb_build_object(
            'first_name', p.first_name, 'last_name', p.last_name, 'email', p.email, 'phone', p.phone,
            'nationality', p.nationality, 'language_preference', p.language, 'budget_min', p.budget_min,
            'budget_max', p.budget_max, 'property_type', p.property_type, 'preferred_areas', to_jsonb(p.areas))),
        'source_details', jsonb_strip_nulls(jsonb_build_object(
            'external_id', p.external_id, 'campaign_id', p.campaign_id, 'utm_source', p.utm_source,
            'utm_medium', p.utm_medium, 'utm_campaign', p.campaign_id, 'property_id', p.source_property_id,
            'referrer_agent_id', p.referrer_agent_id)))
$$;

-- capture one lead at its created_at; returns its lead id
CREATE OR REPLACE FUNCTION pg_temp.capture(p_key text)
RETURNS uuid
LANGUAGE plpgsql
AS $$
DECLARE
    p          seed_lead;
    v_score    jsonb;
    v_decision jsonb;
    v_lead_id  uuid;
BEGIN
    SELECT * INTO p FROM seed_lead WHERE lead_key = p_key;
    IF p.duplicate_of_key IS NOT NULL OR p.routed THEN
        -- the real entry point: duplicate link (same phone, another source, within the window) or ranking alone
        v_lead_id := (api.capture_lead(pg_temp.capture_body(p), 'seed', NULL, NULL, p.created_at) #>> '{body,lead_id}')::uuid;
        UPDATE seed_lead SET lead_id = v_lead_id WHERE lead_key = p_key;
        RETURN v_lead_id;
    END IF;
    -- a planned lead: capture's own steps, with the agent of the plan as the preferred agent of the assignment
    PERFORM crm.set_actor('seed');
    v_score := crm.capture_score(jsonb_populate_record(NULL::crm.leads, jsonb_build_object(
        'source_type', p.source_type, 'budget_min', p.budget_min, 'budget_max', p.budget_max,
        'nationality', p.nationality, 'property_type', p.property_type, 'referrer_agent_id', p.referrer_agent_id)));
    INSERT INTO crm.leads (lead_id, source_type, external_id, first_name, last_name, email, phone, nationality,
                           language_preference, budget_min, budget_max, property_type, score, score_breakdown,
                           campaign_id, utm_source, utm_medium, utm_campaign, referrer_agent_id, source_property_id,
                           created_at, updated_at)
    VALUES (p.lead_id, p.source_type, p.external_id, p.first_name, p.last_name, p.email, p.phone, p.nationality,
            p.language, p.budget_min, p.budget_max, p.property_type, (v_score ->> 'score')::smallint,
            v_score -> 'breakdown', p.campaign_id, p.utm_source, p.utm_medium, p.campaign_id, p.referrer_agent_id,
            p.source_property_id, p.created_at, p.created_at);
    INSERT INTO crm.lead_preferred_areas (lead_id, area_code) SELECT p.lead_id, unnest(p.areas);
    v_decision := crm.assign_lead(p.lead_id, 'import', p.first_agent_id, NULL, 'demo data: the agent of the plan',
                                  p.created_at);
    IF v_decision ->> 'agent_id' IS NOT NULL THEN
        PERFORM crm.schedule_initial_follow_up(p.lead_id, (v_decision ->> 'agent_id')::uuid,
                                               (v_score ->> 'score')::integer, p.created_at);
    END IF;
    RETURN p.lead_id;
END
$$;

-- the first free slot of an agent for a follow-up wanted at p_wanted (at least half an hour after p_at), in business
-- hours: the engine's crm.next_free_slot, from the wanted time rounded up to the slot step
CREATE OR REPLACE FUNCTION pg_temp.free_slot(p_agent_id uuid, p_wanted timestamptz, p_at timestamptz)
RETURNS timestamptz
LANGUAGE sql STABLE
AS $$
    SELECT crm.next_free_slot(p_agent_id, crm.round_up_to_slot(greatest(p_wanted, p_at + interval '30 minutes')),
                              crm.setting_interval('follow_up_default_duration'), true)
$$;

-- the listing a lead likes best so far: its most interesting one, nearest its budget
CREATE OR REPLACE FUNCTION pg_temp.favourite(p_lead_id uuid)
RETURNS uuid
LANGUAGE sql STABLE
AS $$
    SELECT i.property_id
      FROM crm.lead_property_interests AS i
      JOIN crm.properties AS pr USING (property_id)
      JOIN crm.leads AS l ON l.lead_id = i.lead_id
     WHERE i.lead_id = p_lead_id
     ORDER BY i.interest_level, abs(pr.price_aed - coalesce(l.budget_max, l.budget_min)), pr.reference
     LIMIT 1
$$;

-- run step p_step of a lead at p_at through api.update_lead; returns the time of the lead's next step (NULL: none)
CREATE OR REPLACE FUNCTION pg_temp.step(p_key text, p_step integer, p_at timestamptz)
RETURNS timestamptz
LANGUAGE plpgsql
AS $$
DECLARE
    p          seed_lead;
    s          seed_step;
    v_next     seed_step;
    v_agent    uuid;
    v_wanted   timestamptz;
    v_activity jsonb;
    v_body     jsonb := '{}';
    v_interest jsonb := '[]';
    v_at       timestamptz;
BEGIN
    SELECT * INTO p FROM seed_lead WHERE lead_key = p_key;
    SELECT * INTO s FROM seed_step WHERE lead_key = p_key AND step_no = p_step;
    SELECT * INTO v_next FROM seed_step WHERE lead_key = p_key AND step_no = p_step + 1;
    SELECT a.agent_id INTO v_agent FROM crm.lead_assignments AS a WHERE a.lead_id = p.lead_id AND a.released_at IS NULL;

    v_activity := jsonb_strip_nulls(jsonb_build_object('type', s.activity_type, 'outcome', s.outcome, 'notes', s.notes));
    -- the next follow-up (the next step, or the last follow-up of an open lead): booked unless this interaction
    -- closes the lead, or one is pending already (a first call before the SLA follow-up leaves that one as the next
    -- step)
    v_wanted := CASE WHEN v_next.lead_key IS NOT NULL THEN v_next.wanted_at ELSE p.tail_at END;
    IF NOT s.closes AND NOT EXISTS (SELECT 1 FROM crm.follow_up_tasks AS t
                                     WHERE t.lead_id = p.lead_id AND t.status = 'open' AND t.due_at > p_at) THEN
        v_activity := v_activity || jsonb_build_object('next_follow_up', pg_temp.free_slot(v_agent, v_wanted, p_at));
    END IF;
    v_body := jsonb_build_object('activity', v_activity);

    IF s.status_to IS NOT NULL THEN
        v_body := v_body || jsonb_build_object('status', s.status_to);
    END IF;
    -- what the client is interested in: the listing they asked about at first contact, the engine's suggestions at
    -- qualification, their favourite after the viewing; nothing much any more once lost
    IF s.stage = 1 AND s.status_to IS NOT NULL AND p.source_property_id IS NOT NULL THEN
        v_interest := jsonb_build_array(jsonb_build_object('property_id', p.source_property_id, 'interest_level', 'medium'));
    ELSIF s.stage = 2 AND s.status_to IS NOT NULL THEN
        SELECT coalesce(jsonb_agg(jsonb_build_object('property_id', x.property_id, 'interest_level', 'medium')), '[]')
          INTO v_interest FROM crm.suggest_properties(p.lead_id, 2) AS x;
    ELSIF s.stage = 3 AND s.status_to IS NOT NULL THEN
        SELECT coalesce(jsonb_agg(jsonb_build_object('property_id', f.id, 'interest_level', 'high')), '[]')
          INTO v_interest
          FROM (SELECT coalesce(pg_temp.favourite(p.lead_id),
                                (SELECT x.property_id FROM crm.suggest_properties(p.lead_id, 1) AS x)) AS id) AS f
         WHERE f.id IS NOT NULL;
    ELSIF s.status_to = 'lost' THEN
        SELECT coalesce(jsonb_agg(jsonb_build_object('property_id', i.property_id, 'interest_level', 'low')), '[]')
          INTO v_interest FROM crm.lead_property_interests AS i WHERE i.lead_id = p.lead_id;
    END IF;
    IF v_interest <> '[]' THEN
        v_body := v_body || jsonb_build_object('property_interests', v_interest);
    END IF;
    IF s.status_to = 'lost' THEN
        v_body := v_body || jsonb_build_object('lost_reason', p.lost_reason);
    ELSIF s.status_to = 'converted' THEN
        -- the deal: the favourite listing at 94-99 % of its asking price, else 95 % of the budget
        v_body := v_body || jsonb_build_object('deal_value', coalesce(
            (SELECT round(pr.price_aed * (0.94 + 0.05 * pg_temp.frac(p.lead_key || '/deal')) / 1000) * 1000
               FROM crm.properties AS pr WHERE pr.property_id = pg_temp.favourite(p.lead_id)),
            round(coalesce(p.budget_max, p.budget_min) * 0.95 / 1000) * 1000));
    END IF;

    PERFORM api.update_lead(p.lead_id, v_body, 'seed', p_at);
    -- the pending follow-up was further out than the interaction completes, and it completed it anyway: an open lead
    -- that ends here still gets its last follow-up, booked as a call (crm.book_follow_up, update_lead's own step)
    IF s.last_step AND NOT s.closes
       AND NOT EXISTS (SELECT 1 FROM crm.follow_up_tasks AS t WHERE t.lead_id = p.lead_id AND t.status = 'open') THEN
        PERFORM crm.book_follow_up(p.lead_id, v_agent, pg_temp.free_slot(v_agent, v_wanted, p_at), 'call',
                                   (SELECT (crm.sla_class(l.score) ->> 'priority')::crm.task_priority
                                      FROM crm.leads AS l WHERE l.lead_id = p.lead_id),
                                   'Follow-up call', p_at);
    END IF;

    -- when the next step happens: a closing step when it was planned; any other at the lead's earliest open
    -- follow-up (the one booked for it), else at its wanted time; never before this one
    IF v_next.lead_key IS NULL THEN
        RETURN NULL;
    END IF;
    v_at := greatest(CASE WHEN v_next.closes THEN v_next.wanted_at
                          ELSE coalesce((SELECT min(t.due_at) FROM crm.follow_up_tasks AS t
                                          WHERE t.lead_id = p.lead_id AND t.status = 'open'), v_next.wanted_at) END,
                     p_at + interval '10 minutes');
    RETURN v_at;
END
$$;

-- a lead's new agent (after a hand-over or a reassignment by a sweep) introduces themselves with a call, before the
-- engine's no-response rule would move the lead on again; the follow-up booked for it is the lead's next planned
-- step, or its last follow-up
CREATE OR REPLACE FUNCTION pg_temp.take_over(p_key text, p_at timestamptz)
RETURNS void
LANGUAGE plpgsql
AS $$
DECLARE
    p       seed_lead;
    v_agent uuid;
    v_next  timestamptz;
BEGIN
    SELECT * INTO p FROM seed_lead WHERE lead_key = p_key;
    IF (SELECT crm.is_closed(l.status) FROM crm.leads AS l WHERE l.lead_id = p.lead_id) THEN
        RETURN;
    END IF;
    SELECT a.agent_id INTO v_agent FROM crm.lead_assignments AS a WHERE a.lead_id = p.lead_id AND a.released_at IS NULL;
    SELECT min(g.at) INTO v_next FROM seed_agenda AS g WHERE g.lead_key = p_key AND g.ord = 1 AND g.step_no > 0;
    PERFORM api.update_lead(p.lead_id, jsonb_build_object('activity', jsonb_build_object(
        'type', 'call', 'outcome', 'neutral',
        'notes', CASE WHEN p.language = 'arabic' AND pg_temp.h(p.lead_key || '/ar') % 2 = 0
                      THEN 'اتصلت بالعميل وعرّفته بنفسي كوكيله الجديد.'
                      ELSE 'Introduced myself as the client''s new agent and went through the file.' END,
        'next_follow_up', pg_temp.free_slot(v_agent, coalesce(v_next, p.tail_at, p_at + interval '1 day'), p_at))),
        'seed', p_at);
END
$$;

-- the day Maria Santos leaves: a supervisor hands her open leads to Priya Nair, then she is deactivated
CREATE OR REPLACE FUNCTION pg_temp.hand_over(p_at timestamptz)
RETURNS void
LANGUAGE plpgsql
AS $$
DECLARE
    h      seed_handover;
    v_lead uuid;
BEGIN
    SELECT * INTO h FROM seed_handover;
    FOR v_lead IN
        SELECT a.lead_id FROM crm.lead_assignments AS a JOIN crm.leads AS l USING (lead_id)
         WHERE a.agent_id = h.from_agent_id AND a.released_at IS NULL AND NOT crm.is_closed(l.status)
         ORDER BY a.assigned_at, a.lead_id
    LOOP
        PERFORM api.reassign_lead(v_lead, 'Agent left the company; lead handed over to a teammate', h.to_agent_id,
                                  'seed', p_at);
    END LOOP;
    UPDATE crm.agents SET is_active = false WHERE agent_id = h.from_agent_id;
END
$$;

-- the replay: every event in time order (capture, step, hand-over, sweep), each at its own time
CREATE OR REPLACE FUNCTION pg_temp.replay()
RETURNS jsonb
LANGUAGE plpgsql
AS $$
DECLARE
    v_now     timestamptz := now();
    v_tz      text := crm.setting('timezone') #>> '{}';
    v_first   timestamptz;
    e         record;
    v_next    timestamptz;
    v_events  integer := 0;
    v_dropped integer := 0;
    v_sweep   jsonb;
BEGIN
    CREATE TEMP TABLE seed_agenda (at timestamptz NOT NULL, ord smallint NOT NULL, lead_key text NOT NULL DEFAULT '',
                                   step_no integer NOT NULL DEFAULT 0) ON COMMIT DROP;
    CREATE INDEX ON seed_agenda (at, ord, lead_key, step_no);
    INSERT INTO seed_agenda (at, ord, lead_key) SELECT created_at, 0, lead_key FROM seed_lead;
    INSERT INTO seed_agenda (at, ord) SELECT handed_over_at, 2 FROM seed_handover;
    SELECT min(created_at) INTO v_first FROM seed_lead;
    INSERT INTO seed_agenda (at, ord)
    SELECT d, 3
      FROM generate_series(((v_first AT TIME ZONE v_tz)::date + 1) + time '04:00', v_now AT TIME ZONE v_tz,
                           interval '1 day') AS g (local)
     CROSS JOIN LATERAL (SELECT g.local AT TIME ZONE v_tz AS d) AS x
     WHERE x.d < v_now
    UNION ALL
    SELECT v_now, 3;

    LOOP
        SELECT a.ctid AS id, a.* INTO e FROM seed_agenda AS a ORDER BY a.at, a.ord, a.lead_key, a.step_no LIMIT 1;
        EXIT WHEN NOT FOUND;
        DELETE FROM seed_agenda WHERE ctid = e.id;
        v_events := v_events + 1;
        PERFORM crm.set_clock(e.at);
        v_next := NULL;
        CASE e.ord
            WHEN 0 THEN
                PERFORM pg_temp.capture(e.lead_key);
                -- the first step: at its wanted time, or at the first follow-up capture booked when that is earlier
                SELECT greatest(least(s.wanted_at, (SELECT min(t.due_at) FROM crm.follow_up_tasks AS t
                                                     JOIN seed_lead AS p ON p.lead_id = t.lead_id
                                                    WHERE p.lead_key = e.lead_key AND t.status = 'open')),
                                e.at + interval '5 minutes')
                  INTO v_next FROM seed_step AS s WHERE s.lead_key = e.lead_key AND s.step_no = 1;
                e.step_no := 0;
            WHEN 1 THEN
                IF e.step_no = 0 THEN
                    PERFORM pg_temp.take_over(e.lead_key, e.at);
                ELSE
                    v_next := pg_temp.step(e.lead_key, e.step_no, e.at);
                END IF;
            WHEN 2 THEN
                PERFORM pg_temp.hand_over(e.at);
            ELSE
                v_sweep := jobs.run_sweeps(e.at);
        END CASE;
        IF e.ord IN (2, 3) THEN
            -- leads that changed hands just now: their new agent takes over within the day (a planned step that
            -- comes first serves), at the first follow-up the engine booked for them
            INSERT INTO seed_agenda (at, ord, lead_key, step_no)
            SELECT x.at, 1, x.lead_key, 0
              FROM (SELECT p.lead_key,
                           greatest(e.at + interval '5 minutes',
                                    least((SELECT min(t.due_at) FROM crm.follow_up_tasks AS t
                                            WHERE t.lead_id = p.lead_id AND t.status = 'open'),
                                          e.at + interval '20 hours')) AS at
                      FROM crm.lead_assignments AS a
                      JOIN seed_lead AS p ON p.lead_id = a.lead_id
                     WHERE a.released_at IS NULL AND a.assigned_at = e.at
                       AND a.kind IN ('manual', 'auto_reassign_no_response', 'workload_balance')) AS x
             WHERE x.at < v_now - interval '5 minutes'
               AND NOT EXISTS (SELECT 1 FROM seed_agenda AS g WHERE g.lead_key = x.lead_key AND g.ord = 1 AND g.at <= x.at);
        END IF;
        IF v_next IS NOT NULL THEN
            IF v_next < v_now - interval '5 minutes' THEN
                INSERT INTO seed_agenda (at, ord, lead_key, step_no) VALUES (v_next, 1, e.lead_key, e.step_no + 1);
            ELSE
                v_dropped := v_dropped + 1;   -- the plan ran past now: the lead stops where it is
            END IF;
        END IF;
    END LOOP;
    PERFORM crm.set_clock(NULL);
    PERFORM crm.set_actor('seed');
    RETURN jsonb_build_object('events', v_events, 'steps_dropped', v_dropped, 'last_sweep', v_sweep);
END
$$;

DO $$
DECLARE
    v_result jsonb;
BEGIN
    IF EXISTS (SELECT 1 FROM crm.leads AS l JOIN seed_lead AS p USING (lead_id)) THEN
        RAISE NOTICE 'demo history already loaded: not replayed';
        RETURN;
    END IF;
    -- the replayed sweeps act on every lead at past clocks: never on leads that are not the demo's own
    IF EXISTS (SELECT 1 FROM crm.leads) THEN
        RAISE NOTICE 'crm.leads holds leads of its own: the demo history is replayed only into a database without leads';
        RETURN;
    END IF;
    v_result := pg_temp.replay();
    RAISE NOTICE 'demo history replayed: %', v_result;
END
$$;
