-- Agent availability: working hours, absences and a pause, kept on the agent row (weekly_hours, absent,
-- paused_until) so routing can ask of each candidate in a few comparisons. crm.agent_free is the rule, written once:
-- active, not paused, not absent, and on shift (the agent's own weekly hours, else the office's business_hours);
-- crm.agent_available_at asks it for one agent and a time (psql users too), and the routing functions ask it of
-- their candidates (19_crm_assignment.sql). Times of day are those of the timezone setting.

-- crm.minute_of_week(t): minutes since Monday 00:00 of t's week, local time (0 .. 10079).
CREATE OR REPLACE FUNCTION crm.minute_of_week(p_at timestamptz)
RETURNS integer
LANGUAGE plpgsql
STABLE
SET search_path = ''
AS $$
DECLARE
    v_local timestamp := p_at AT TIME ZONE (crm.setting('timezone') #>> '{}');
BEGIN
    RETURN (extract(isodow FROM v_local)::integer - 1) * 1440 + extract(hour FROM v_local)::integer * 60
           + extract(minute FROM v_local)::integer;
END
$$;
COMMENT ON FUNCTION crm.minute_of_week(timestamptz) IS
    'Minutes since Monday 00:00 (timezone setting) of the week of t: what crm.agents.weekly_hours is measured in.';

-- crm.week_minutes(isodow, starts, ends): one working range as minutes of the week. A plain IMMUTABLE SQL expression
-- without SET, inlined where it is used (tests/db/test_migrations.py lists it among the functions allowed no pinned
-- search_path: it names nothing but its arguments and pg_catalog's functions and operators); with SET it was planned
-- again at every call (docs/benchmarks.md).
CREATE OR REPLACE FUNCTION crm.week_minutes(p_isodow integer, p_starts time, p_ends time)
RETURNS int4range
LANGUAGE sql
IMMUTABLE
PARALLEL SAFE
AS $$
    SELECT pg_catalog.int4range(
        (p_isodow OPERATOR(pg_catalog.-) 1) OPERATOR(pg_catalog.*) 1440
            OPERATOR(pg_catalog.+) (extract(epoch FROM p_starts) OPERATOR(pg_catalog./) 60)::integer,
        (p_isodow OPERATOR(pg_catalog.-) 1) OPERATOR(pg_catalog.*) 1440
            OPERATOR(pg_catalog.+) (extract(epoch FROM p_ends) OPERATOR(pg_catalog./) 60)::integer)
$$;
COMMENT ON FUNCTION crm.week_minutes(integer, time, time) IS 'A weekday''s [start, end) as minutes of the week.';

-- crm.office_week(): the office's business_hours as minutes of the week (what an agent without hours works):
-- Monday's opening hours (crm.week_minutes) moved by whole days to each business day. Asked once per routing
-- decision, so it is a loop over a handful of days, not a query.
CREATE OR REPLACE FUNCTION crm.office_week()
RETURNS int4multirange
LANGUAGE plpgsql
STABLE
SET search_path = ''
AS $$
DECLARE
    v_cal    record := crm.business_calendar();
    v_monday int4range := crm.week_minutes(1, v_cal.opens, v_cal.closes);
    v_week   int4multirange := '{}';
    v_day    integer;
BEGIN
    FOREACH v_day IN ARRAY v_cal.days LOOP
        v_week := v_week + pg_catalog.int4multirange(pg_catalog.int4range(lower(v_monday) + (v_day - 1) * 1440,
                                                                           upper(v_monday) + (v_day - 1) * 1440));
    END LOOP;
    RETURN v_week;
END
$$;
COMMENT ON FUNCTION crm.office_week() IS
    'The business_hours setting as minutes of the week: the working time of every agent without hours of their own.';

-- crm.agent_away(agent, t): why the agent may receive no lead at all at t: paused or absent (NULL: neither).
CREATE OR REPLACE FUNCTION crm.agent_away(p_agent crm.agents, p_at timestamptz)
RETURNS text
LANGUAGE plpgsql
IMMUTABLE
SET search_path = ''
AS $$
BEGIN
    IF p_agent.paused_until > p_at THEN
        RETURN 'paused';
    ELSIF p_agent.absent @> p_at THEN
        RETURN 'absent';
    END IF;
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION crm.agent_away(crm.agents, timestamptz) IS
    'paused or absent when the agent may receive no lead at t (not even as a duplicate''s agent); NULL otherwise.';

-- crm.agent_free(agent, t, minute of week, office week): THE availability rule: active, not away, on shift.
CREATE OR REPLACE FUNCTION crm.agent_free(p_agent crm.agents, p_at timestamptz, p_minute integer,
                                          p_office int4multirange)
RETURNS boolean
LANGUAGE plpgsql
IMMUTABLE
SET search_path = ''
AS $$
BEGIN
    RETURN p_agent.is_active AND crm.agent_away(p_agent, p_at) IS NULL
           AND coalesce(p_agent.weekly_hours, p_office) @> p_minute;
END
$$;
COMMENT ON FUNCTION crm.agent_free(crm.agents, timestamptz, integer, int4multirange) IS
    'The availability rule: the agent is active, neither paused nor absent at t, and on shift at t''s minute of the '
    'week (its weekly_hours, else the office''s). Routing passes the minute and the office week once per decision.';

-- crm.agent_can_take(agent, t, minute of week, office week, require free): whether routing may give this agent a lead
-- at t: available (crm.agent_free) by day; for the night's order (p_require_free false), merely neither paused nor
-- absent (its clock starts when its shift does). What the routing steps of 19_crm_assignment.sql ask of a candidate.
CREATE OR REPLACE FUNCTION crm.agent_can_take(p_agent crm.agents, p_at timestamptz, p_minute integer,
                                              p_office int4multirange, p_require_free boolean)
RETURNS boolean
LANGUAGE plpgsql
IMMUTABLE
SET search_path = ''
AS $$
BEGIN
    IF p_require_free THEN
        RETURN crm.agent_free(p_agent, p_at, p_minute, p_office);
    END IF;
    RETURN crm.agent_away(p_agent, p_at) IS NULL;
END
$$;
COMMENT ON FUNCTION crm.agent_can_take(crm.agents, timestamptz, integer, int4multirange, boolean) IS
    'Whether routing may give the agent a lead at t: crm.agent_free, or with p_require_free false (the night''s '
    'order) neither paused nor absent.';

-- crm.agent_available_at(agent, t): is this agent available at t (default now)? What routing asks, for psql users.
CREATE OR REPLACE FUNCTION crm.agent_available_at(p_agent_id uuid, p_at timestamptz DEFAULT NULL)
RETURNS boolean
LANGUAGE plpgsql
STABLE
SET search_path = ''
AS $$
DECLARE
    v_at timestamptz := coalesce(p_at, now());
BEGIN
    RETURN (SELECT crm.agent_free(g, v_at, crm.minute_of_week(v_at), crm.office_week())
              FROM crm.agents AS g WHERE g.agent_id = p_agent_id);
END
$$;
COMMENT ON FUNCTION crm.agent_available_at(uuid, timestamptz) IS
    'Whether the agent can take a lead at t (default now): active, not paused, not absent, on shift (crm.agent_free). '
    'NULL for an unknown agent.';

-- crm.agent_available_from(agent, t): the first minute at or after t at which the agent is available (t itself
-- when it is), stepping over the pause, absences and off-shift time; NULL when inactive or never on shift.
CREATE OR REPLACE FUNCTION crm.agent_available_from(p_agent crm.agents, p_at timestamptz)
RETURNS timestamptz
LANGUAGE plpgsql
STABLE
SET search_path = ''
AS $$
DECLARE
    v_tz     text;   -- read only when the search steps past off-shift time
    v_week   int4multirange;
    v_t      timestamptz := p_at;
    v_minute integer;
    v_next   integer;
BEGIN
    IF NOT p_agent.is_active THEN
        RETURN NULL;
    END IF;
    v_week := coalesce(p_agent.weekly_hours, crm.office_week());
    IF v_week = '{}'::int4multirange THEN
        RETURN NULL;
    END IF;
    FOR i IN 1..60 LOOP
        IF p_agent.paused_until > v_t THEN
            v_t := p_agent.paused_until;
            CONTINUE;
        END IF;
        IF p_agent.absent @> v_t THEN
            v_t := (SELECT upper(r) FROM pg_catalog.unnest(p_agent.absent) AS r WHERE r @> v_t);
            CONTINUE;
        END IF;
        v_minute := crm.minute_of_week(v_t);
        IF v_week @> v_minute THEN
            RETURN v_t;
        END IF;
        -- the next shift's start, this week or (wrapping) the next
        SELECT min(lower(r)) INTO v_next FROM pg_catalog.unnest(v_week) AS r WHERE lower(r) > v_minute;
        v_next := coalesce(v_next, (SELECT min(lower(r)) FROM pg_catalog.unnest(v_week) AS r) + 10080);
        v_tz := coalesce(v_tz, crm.setting('timezone') #>> '{}');
        v_t := ((pg_catalog.date_trunc('minute', v_t AT TIME ZONE v_tz) + pg_catalog.make_interval(mins => v_next - v_minute))
                AT TIME ZONE v_tz);
    END LOOP;
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION crm.agent_available_from(crm.agents, timestamptz) IS
    'The first time at or after t when the agent is available (crm.agent_free): past the pause, any absence and off-shift '
    'time; NULL when inactive or without working hours.';

-- crm.next_available_at(agent, t, office opens): crm.agent_available_from, answered at once for the common case of
-- the night's ranking: an agent on the office's hours, neither paused past t nor absent between t and the office's
-- next opening p_open (crm.business_open_at(t), computed once by the caller), starts then.
DROP FUNCTION IF EXISTS crm.next_available_at(crm.agents, timestamptz, int4multirange);
CREATE OR REPLACE FUNCTION crm.next_available_at(p_agent crm.agents, p_at timestamptz, p_open timestamptz)
RETURNS timestamptz
LANGUAGE plpgsql
STABLE
SET search_path = ''
AS $$
BEGIN
    IF p_agent.weekly_hours IS NULL AND p_agent.is_active AND NOT coalesce(p_agent.paused_until > p_at, false)
       AND NOT (p_agent.absent && pg_catalog.tstzrange(p_at, p_open, '[]')) THEN
        RETURN p_open;
    END IF;
    RETURN crm.agent_available_from(p_agent, p_at);
END
$$;
COMMENT ON FUNCTION crm.next_available_at(crm.agents, timestamptz, timestamptz) IS
    'crm.agent_available_from with a short cut for an agent on the office''s hours and away neither now nor before the '
    'office next opens: that opening.';

-- crm.agent_availability(agent, t): the agent's availability at t as the API shows it.
CREATE OR REPLACE FUNCTION crm.agent_availability(p_agent_id uuid, p_at timestamptz DEFAULT NULL)
RETURNS json
LANGUAGE plpgsql
STABLE
SET search_path = ''
AS $$
DECLARE
    v_at    timestamptz := coalesce(p_at, now());
    v_agent crm.agents;
    v_free  boolean;
BEGIN
    SELECT * INTO v_agent FROM crm.agents AS g WHERE g.agent_id = p_agent_id;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    v_free := crm.agent_free(v_agent, v_at, crm.minute_of_week(v_at), crm.office_week());
    RETURN pg_catalog.json_build_object(
        'available_now', v_free,
        'reason', CASE WHEN v_free THEN NULL WHEN NOT v_agent.is_active THEN 'inactive'
                       ELSE coalesce(crm.agent_away(v_agent, v_at), 'off_shift') END,
        'available_from', CASE WHEN v_free THEN v_at ELSE crm.agent_available_from(v_agent, v_at) END,
        'paused_until', CASE WHEN v_agent.paused_until > v_at THEN v_agent.paused_until END,
        'pause_reason', CASE WHEN v_agent.paused_until > v_at THEN v_agent.pause_reason END,
        'uses_office_hours', v_agent.weekly_hours IS NULL);
END
$$;
COMMENT ON FUNCTION crm.agent_availability(uuid, timestamptz) IS
    'An agent''s availability at t: available_now, reason (inactive, paused, absent, off_shift), available_from, the '
    'pause, and whether it works the office''s hours.';

-- AFTER INSERT, UPDATE or DELETE on crm.agent_working_hours: the agent's weekly_hours (NULL when it has no row).
CREATE OR REPLACE FUNCTION crm.agent_working_hours_derive()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = ''
AS $$
BEGIN
    UPDATE crm.agents AS g
       SET weekly_hours = (SELECT pg_catalog.range_agg(crm.week_minutes(h.isodow, h.starts, h.ends))
                             FROM crm.agent_working_hours AS h WHERE h.agent_id = g.agent_id)
     WHERE g.agent_id IN (CASE WHEN TG_OP <> 'INSERT' THEN OLD.agent_id END,
                          CASE WHEN TG_OP <> 'DELETE' THEN NEW.agent_id END);
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION crm.agent_working_hours_derive() IS
    'Trigger: crm.agents.weekly_hours follows the agent''s rows of crm.agent_working_hours (NULL: office hours). '
    'SECURITY DEFINER: writes the derived column for any writer of the hours.';

CREATE OR REPLACE TRIGGER agent_working_hours_20_derive AFTER INSERT OR UPDATE OR DELETE ON crm.agent_working_hours
    FOR EACH ROW EXECUTE FUNCTION crm.agent_working_hours_derive();

-- AFTER INSERT, UPDATE or DELETE on crm.agent_absences: the agent's absent multirange.
CREATE OR REPLACE FUNCTION crm.agent_absences_derive()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = ''
AS $$
BEGIN
    UPDATE crm.agents AS g
       SET absent = coalesce((SELECT pg_catalog.range_agg(a.period) FROM crm.agent_absences AS a
                               WHERE a.agent_id = g.agent_id), '{}')
     WHERE g.agent_id IN (CASE WHEN TG_OP <> 'INSERT' THEN OLD.agent_id END,
                          CASE WHEN TG_OP <> 'DELETE' THEN NEW.agent_id END);
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION crm.agent_absences_derive() IS
    'Trigger: crm.agents.absent follows the agent''s rows of crm.agent_absences. SECURITY DEFINER: writes the derived '
    'column for any writer of the absences.';

CREATE OR REPLACE TRIGGER agent_absences_20_derive AFTER INSERT OR UPDATE OR DELETE ON crm.agent_absences
    FOR EACH ROW EXECUTE FUNCTION crm.agent_absences_derive();
