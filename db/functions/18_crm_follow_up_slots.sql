-- Business time (setting business_hours in the setting timezone, Asia/Dubai) and follow-up slots:
-- when the initial follow-up is due, and an agent's next free slot when the wanted one is taken.

-- crm.business_calendar(): the business time zone, opening and closing time and ISO weekdays, from the
-- settings timezone and business_hours. Errors: PT500 setting_invalid when the hours cannot hold any time.
CREATE OR REPLACE FUNCTION crm.business_calendar(OUT tz text, OUT opens time, OUT closes time, OUT days integer[])
LANGUAGE plpgsql
STABLE
SET search_path = ''
AS $$
DECLARE
    v_hours jsonb := crm.setting('business_hours');
BEGIN
    tz := crm.setting('timezone') #>> '{}';
    opens := (v_hours ->> 'start')::time;
    closes := (v_hours ->> 'end')::time;
    -- the JSON list [1, 2, ...] as the array literal {1, 2, ...} (the setting's shape is a list of isodow): an
    -- expression, not a query (ARRAY(SELECT jsonb_array_elements_text(...))), at about 4.6 calls a capture
    days := pg_catalog.translate((v_hours -> 'days')::text, '[]', '{}')::integer[];
    IF opens >= closes OR coalesce(pg_catalog.array_length(days, 1), 0) = 0 THEN
        RAISE EXCEPTION 'business_hours setting is unusable: %', v_hours
            USING ERRCODE = 'PT500', CONSTRAINT = 'setting_invalid';
    END IF;
END
$$;
COMMENT ON FUNCTION crm.business_calendar() IS
    'Business time zone, opening and closing time and ISO weekdays (settings timezone, business_hours). '
    'Errors: PT500 setting_invalid.';

-- crm.business_open_at(t, slot, calendar): t itself when [t, t + slot) lies inside business hours, else the start of
-- the next business period that can hold the slot. p_calendar: crm.business_calendar() as the caller read it (a
-- caller that asks several times reads the two settings once: a calendar costs some 75,000 instructions); NULL:
-- read here.
DROP FUNCTION IF EXISTS crm.business_open_at(timestamptz, interval);
CREATE OR REPLACE FUNCTION crm.business_open_at(p_at timestamptz, p_slot interval DEFAULT interval '0',
                                                p_calendar record DEFAULT NULL)
RETURNS timestamptz
LANGUAGE plpgsql
STABLE
SET search_path = ''
AS $$
DECLARE
    v_cal   record := coalesce(p_calendar, crm.business_calendar());
    v_local timestamp := p_at AT TIME ZONE v_cal.tz;
    v_day   date := v_local::date;
BEGIN
    FOR i IN 0..14 LOOP
        IF extract(isodow FROM v_day)::integer = ANY (v_cal.days) THEN
            -- the candidate start on this day: the requested time on the first day, the opening time after
            v_local := greatest(v_local, v_day + v_cal.opens);
            IF v_local < v_day + v_cal.closes AND v_local + p_slot <= v_day + v_cal.closes THEN
                RETURN v_local AT TIME ZONE v_cal.tz;
            END IF;
        END IF;
        v_day := v_day + 1;
        v_local := v_day + v_cal.opens;
    END LOOP;
    RAISE EXCEPTION 'no business period within two weeks can hold a slot of %', p_slot
        USING ERRCODE = 'PT500', CONSTRAINT = 'setting_invalid';
END
$$;
COMMENT ON FUNCTION crm.business_open_at(timestamptz, interval, record) IS
    'The first moment at or after p_at when a slot of p_slot fits inside business hours (settings business_hours, '
    'timezone; or p_calendar, crm.business_calendar() read by the caller). Errors: PT500 setting_invalid.';

-- crm.add_business_time(t, d): t plus d counted in business time. The days part of d moves to the same
-- clock time on following business days; the time part is counted only while the office is open.
-- Example (Mon-Sat 09:00-19:00): Saturday 17:00 + 4 hours = Monday 11:00; Friday 15:00 + 1 day = Saturday 15:00.
-- p_calendar: as for crm.business_open_at.
DROP FUNCTION IF EXISTS crm.add_business_time(timestamptz, interval);
CREATE OR REPLACE FUNCTION crm.add_business_time(p_at timestamptz, p_duration interval, p_calendar record DEFAULT NULL)
RETURNS timestamptz
LANGUAGE plpgsql
STABLE
SET search_path = ''
AS $$
DECLARE
    v_cal    record := coalesce(p_calendar, crm.business_calendar());
    v_at     timestamptz := crm.business_open_at(p_at, interval '0', v_cal);
    v_whole  integer := extract(day FROM p_duration)::integer;
    v_rest   interval := p_duration - make_interval(days => extract(day FROM p_duration)::integer);
    v_local  timestamp;
    v_left   interval;
BEGIN
    -- whole days: the same clock time on the next business day, v_whole times
    FOR i IN 1..v_whole LOOP
        v_local := (v_at AT TIME ZONE v_cal.tz) + interval '1 day';
        WHILE NOT (extract(isodow FROM v_local)::integer = ANY (v_cal.days)) LOOP
            v_local := v_local + interval '1 day';
        END LOOP;
        v_at := v_local AT TIME ZONE v_cal.tz;
    END LOOP;
    -- the time part, spent only while open
    v_left := v_rest;
    FOR i IN 1..1000 LOOP   -- 1000 business days: far beyond any SLA
        v_at := crm.business_open_at(v_at, interval '0', v_cal);
        v_local := v_at AT TIME ZONE v_cal.tz;
        IF v_local + v_left <= v_local::date + v_cal.closes THEN
            RETURN v_at + v_left;
        END IF;
        v_left := v_left - ((v_local::date + v_cal.closes) - v_local);
        v_at := ((v_local::date + v_cal.closes) AT TIME ZONE v_cal.tz);
    END LOOP;
    RAISE EXCEPTION 'business time % from % is out of range', p_duration, p_at
        USING ERRCODE = 'PT422', CONSTRAINT = 'business_time_out_of_range',
              DETAIL = pg_catalog.json_build_object('duration', p_duration, 'from', p_at)::text;
END
$$;
COMMENT ON FUNCTION crm.add_business_time(timestamptz, interval, record) IS
    'p_at plus p_duration in business time: whole days move to the same time on following business days, hours and '
    'minutes count only inside business hours. A start outside business hours counts from the next opening.';

-- crm.next_free_slot(agent, from, length, business, calendar): the earliest start >= p_from at which the agent has no
-- open follow-up overlapping [start, start + length); inside business hours when p_business (p_calendar: as for
-- crm.business_open_at, read once here when NULL).
-- Its loop's query keeps one generic plan: by the cost estimates a custom plan looks cheaper for an agent with few
-- tasks, so without the setting the plan was built again on every call (planning took four times the query).
DROP FUNCTION IF EXISTS crm.next_free_slot(uuid, timestamptz, interval, boolean);
CREATE OR REPLACE FUNCTION crm.next_free_slot(p_agent_id uuid, p_from timestamptz, p_length interval,
                                              p_business boolean, p_calendar record DEFAULT NULL)
RETURNS timestamptz
LANGUAGE plpgsql
STABLE
SET search_path = ''
SET plan_cache_mode = force_generic_plan
AS $$
DECLARE
    v_start timestamptz := p_from;
    v_task  record;
    v_cal   record := p_calendar;
BEGIN
    IF p_business THEN
        v_cal := coalesce(v_cal, crm.business_calendar());
        v_start := crm.business_open_at(v_start, p_length, v_cal);
    END IF;
    -- one pass over the agent's open tasks in time order (they never overlap): the first gap that holds the slot
    FOR v_task IN
        SELECT t.due_at, t.ends_at
          FROM crm.follow_up_tasks AS t
         WHERE t.agent_id = p_agent_id AND t.status = 'open' AND t.ends_at > v_start
         ORDER BY t.due_at
    LOOP
        EXIT WHEN v_task.due_at >= v_start + p_length;
        IF v_task.ends_at > v_start THEN
            v_start := v_task.ends_at;
            IF p_business THEN
                v_start := crm.business_open_at(v_start, p_length, v_cal);
            END IF;
        END IF;
    END LOOP;
    RETURN v_start;
END
$$;
COMMENT ON FUNCTION crm.next_free_slot(uuid, timestamptz, interval, boolean, record) IS
    'Earliest start at or after p_from where the agent''s open follow-ups leave a gap of p_length (within business '
    'hours when p_business), in one ordered pass over the agent''s open tasks.';

-- crm.sla_class(score): the SLA setting row (sla_hot_lead / sla_warm_lead / sla_cold_lead) for a score:
-- the one with the highest min_score not above it.
CREATE OR REPLACE FUNCTION crm.sla_class(p_score integer)
RETURNS jsonb
LANGUAGE plpgsql
STABLE
SET search_path = ''
AS $$
BEGIN
    RETURN (
    SELECT s.value || pg_catalog.jsonb_build_object('class', s.setting_key)
      FROM crm.settings AS s
     WHERE s.setting_key IN ('sla_hot_lead', 'sla_warm_lead', 'sla_cold_lead')
       AND (s.value ->> 'min_score')::integer <= p_score
     ORDER BY (s.value ->> 'min_score')::integer DESC
     LIMIT 1);
END
$$;
COMMENT ON FUNCTION crm.sla_class(integer) IS
    'The follow-up SLA for a lead score: the sla_*_lead setting with the highest min_score <= score, plus its key as "class".';

-- crm.round_up_to_slot(t, step): t rounded up to the next multiple of the follow_up_slot_step setting (5 minutes);
-- p_step: that setting as the caller read it (a booking rounds twice, and reads it once), NULL: read here.
DROP FUNCTION IF EXISTS crm.round_up_to_slot(timestamptz);
DROP FUNCTION IF EXISTS crm.round_up_to_slot(timestamptz, interval);
CREATE FUNCTION crm.round_up_to_slot(p_at timestamptz, p_step interval DEFAULT NULL)
RETURNS timestamptz
LANGUAGE plpgsql
STABLE
SET search_path = ''
AS $$
DECLARE
    v_step numeric := extract(epoch FROM coalesce(p_step, crm.setting_interval('follow_up_slot_step')));
BEGIN
    RETURN pg_catalog.to_timestamp(ceil(extract(epoch FROM p_at) / v_step) * v_step);
END
$$;
COMMENT ON FUNCTION crm.round_up_to_slot(timestamptz, interval) IS
    'p_at rounded up to the next multiple of follow_up_slot_step (slots start on the 5 minutes); p_step: the setting '
    'as the caller read it (NULL: read here).';

-- crm.schedule_initial_follow_up(lead, agent, score, now): books the first follow-up of a newly assigned lead at
-- the agent's earliest free slot from now (rounded up to the slot step; inside business hours unless the SLA class
-- runs around the clock). The SLA deadline is when it must be due by: a slot after it is booked only when nothing
-- before it is free, and the answer says so (within_sla false).
-- Returns the task as json {task_id, task_type, priority, due_at, ends_at, sla, sla_deadline, moved, within_sla}:
-- moved is true when the earliest allowed start was taken and the task went to a later free slot.
DROP FUNCTION IF EXISTS crm.schedule_initial_follow_up(uuid, uuid, integer, timestamptz);
DROP FUNCTION IF EXISTS crm.schedule_initial_follow_up(uuid, uuid, integer, timestamptz, text);
CREATE FUNCTION crm.schedule_initial_follow_up(p_lead_id uuid, p_agent_id uuid, p_score integer, p_now timestamptz,
                                               p_actor text DEFAULT NULL)
RETURNS json
LANGUAGE plpgsql
SET search_path = ''
AS $$
DECLARE
    v_sla      jsonb := crm.sla_class(p_score);
    v_business boolean := coalesce((v_sla ->> 'business_time')::boolean, true);
    v_length   interval := crm.setting_interval('follow_up_default_duration');
    v_step     interval := crm.setting_interval('follow_up_slot_step');   -- read once for both roundings
    v_earliest timestamptz := crm.round_up_to_slot(p_now, v_step);
    v_deadline timestamptz;
    v_due      timestamptz;
    v_task     crm.follow_up_tasks;
    v_cal      record := NULL;   -- the business calendar, read once for the deadline, earliest start and slot search
BEGIN
    IF v_sla IS NULL THEN
        RAISE EXCEPTION 'no SLA setting covers score %', p_score USING ERRCODE = 'PT500', CONSTRAINT = 'setting_missing';
    END IF;
    IF v_business THEN
        v_cal := crm.business_calendar();
        v_deadline := crm.add_business_time(p_now, (v_sla ->> 'within')::interval, v_cal);
        v_earliest := crm.business_open_at(v_earliest, v_length, v_cal);
    ELSE
        v_deadline := p_now + (v_sla ->> 'within')::interval;
    END IF;
    v_deadline := crm.round_up_to_slot(v_deadline, v_step);
    v_due := crm.next_free_slot(p_agent_id, v_earliest, v_length, v_business, v_cal);

    INSERT INTO crm.follow_up_tasks (lead_id, agent_id, task_type, priority, due_at, ends_at, notes, created_by)
    VALUES (p_lead_id, p_agent_id, (v_sla ->> 'task_type')::crm.task_type, (v_sla ->> 'priority')::crm.task_priority,
            v_due, v_due + v_length, 'Initial follow-up (' || (v_sla ->> 'class') || ')', p_actor)
    RETURNING * INTO v_task;

    RETURN pg_catalog.json_build_object(   -- json, in the order the API documents (FollowUp)
        'task_id', v_task.task_id, 'task_type', v_task.task_type, 'priority', v_task.priority,
        'due_at', v_task.due_at, 'ends_at', v_task.ends_at, 'sla', v_sla ->> 'class',
        'sla_deadline', v_deadline, 'moved', v_due <> v_earliest, 'within_sla', v_due <= v_deadline);
END
$$;
COMMENT ON FUNCTION crm.schedule_initial_follow_up(uuid, uuid, integer, timestamptz, text) IS
    'Books a new lead''s first follow-up (created_by p_actor, the caller''s crm.actor() when it has it; NULL: asked by '
    'the trigger) at the agent''s earliest free slot from now (type, priority and deadline from '
    'its SLA class, crm.sla_class; business hours unless the class says otherwise); later than the SLA deadline only '
    'when nothing before it is free (within_sla false). Errors: PT500 setting_missing.';

-- crm.check_follow_up_slot(agent, at, length, now, ignore task): a follow-up of the agent may take [at, at + length):
-- not in the past (beyond follow_up_past_tolerance), not beyond follow_up_horizon, and not overlapping another open
-- follow-up of the agent (p_ignore_task: the one being moved). Locks the agent's row first, so two bookings of
-- one agent check one after the other. Errors: PT422 follow_up_in_past, PT422 follow_up_too_far, PT409
-- follow_up_conflict (DETAIL: conflicting_task_id, next_free_slot).
CREATE OR REPLACE FUNCTION crm.check_follow_up_slot(p_agent_id uuid, p_at timestamptz, p_length interval,
                                                    p_now timestamptz, p_ignore_task uuid)
RETURNS void
LANGUAGE plpgsql
SET search_path = ''
AS $$
DECLARE
    v_conflict uuid;
BEGIN
    IF p_at < p_now - crm.setting_interval('follow_up_past_tolerance') THEN
        RAISE EXCEPTION 'a follow-up cannot be scheduled in the past (%)', p_at
            USING ERRCODE = 'PT422', CONSTRAINT = 'follow_up_in_past',
                  DETAIL = pg_catalog.json_build_object('requested_at', p_at)::text;
    END IF;
    IF p_at > p_now + crm.setting_interval('follow_up_horizon') THEN
        RAISE EXCEPTION 'a follow-up may be booked at most % ahead', crm.setting('follow_up_horizon') #>> '{}'
            USING ERRCODE = 'PT422', CONSTRAINT = 'follow_up_too_far',
                  DETAIL = pg_catalog.json_build_object('latest', p_now + crm.setting_interval('follow_up_horizon'))::text;
    END IF;
    PERFORM 1 FROM crm.agents AS g WHERE g.agent_id = p_agent_id FOR NO KEY UPDATE;
    SELECT t.task_id INTO v_conflict
      FROM crm.follow_up_tasks AS t
     WHERE t.agent_id = p_agent_id AND t.status = 'open' AND t.task_id IS DISTINCT FROM p_ignore_task
       AND pg_catalog.tstzrange(t.due_at, t.ends_at) && pg_catalog.tstzrange(p_at, p_at + p_length)
     ORDER BY t.due_at
     LIMIT 1;
    IF v_conflict IS NOT NULL THEN
        RAISE EXCEPTION 'the agent already has a follow-up at %', p_at
            USING ERRCODE = 'PT409', CONSTRAINT = 'follow_up_conflict',
                  DETAIL = pg_catalog.json_build_object(
                      'requested_at', p_at, 'conflicting_task_id', v_conflict,
                      'next_free_slot', crm.next_free_slot(p_agent_id, p_at, p_length, false))::text,
                  HINT = 'Schedule it at next_free_slot, or another free time.';
    END IF;
END
$$;
COMMENT ON FUNCTION crm.check_follow_up_slot(uuid, timestamptz, interval, timestamptz, uuid) IS
    'Refuses a follow-up slot in the past, beyond the horizon, or overlapping another open follow-up of the agent. '
    'Errors: PT422 follow_up_in_past, PT422 follow_up_too_far, PT409 follow_up_conflict.';

-- crm.book_follow_up(lead, agent, at, type, priority, notes, now): books a follow-up at exactly p_at for the agent.
-- Locks the agent row first, so bookings for one agent (captures included) are made one at a time.
-- Errors: PT422 follow_up_in_past; PT422 follow_up_too_far (beyond the follow_up_horizon setting);
-- PT409 follow_up_conflict with DETAIL {requested_at, next_free_slot,
-- conflicting_task_id} when the agent already has an open task in [p_at, p_at + default duration).
CREATE OR REPLACE FUNCTION crm.book_follow_up(p_lead_id uuid, p_agent_id uuid, p_at timestamptz, p_type crm.task_type,
                                              p_priority crm.task_priority, p_notes text, p_now timestamptz)
RETURNS jsonb
LANGUAGE plpgsql
SET search_path = ''
AS $$
DECLARE
    v_length   interval := crm.setting_interval('follow_up_default_duration');
    v_task     crm.follow_up_tasks;
BEGIN
    PERFORM crm.check_follow_up_slot(p_agent_id, p_at, v_length, p_now, NULL);
    INSERT INTO crm.follow_up_tasks (lead_id, agent_id, task_type, priority, due_at, ends_at, notes)
    VALUES (p_lead_id, p_agent_id, p_type, p_priority, p_at, p_at + v_length, p_notes)
    RETURNING * INTO v_task;
    RETURN pg_catalog.jsonb_build_object('task_id', v_task.task_id, 'task_type', v_task.task_type,
                                         'priority', v_task.priority, 'due_at', v_task.due_at, 'ends_at', v_task.ends_at);
END
$$;
COMMENT ON FUNCTION crm.book_follow_up(uuid, uuid, timestamptz, crm.task_type, crm.task_priority, text, timestamptz) IS
    'Books a follow-up at exactly p_at for an agent (agent row locked). Errors: PT422 follow_up_in_past, '
    'PT422 follow_up_too_far, '
    'PT409 follow_up_conflict (DETAIL: requested_at, next_free_slot, conflicting_task_id).';
