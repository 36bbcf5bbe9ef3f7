-- Smart assignment: rank the eligible agents, lock the best free one with SELECT ... FOR NO KEY UPDATE SKIP LOCKED,
-- open the assignment; no eligible agent -> the lead waits in the queue, which drains (highest score,
-- then oldest) whenever capacity frees. Weights live in the setting assignment_weights.

-- crm.rank_agents(type, areas, language, limit, exclude): the eligible agents (active, role agent, under capacity) but
-- p_exclude_agent, best first, each with the points of every ranking term and its rank; the first p_limit of them
-- (every one when NULL). Ties on points go to the least recently assigned agent. An agent's points are the match
-- points of its routing profile for this lead (property type and area specialisation or the generalist share,
-- language) plus its own base points (performance and free capacity, crm.agents.base_points), weighted by the
-- assignment_weights setting.
-- How the first p_limit are found without scoring everyone: the profiles (crm.routing_profiles, a few dozen) are
-- scored, best match first; the profiles that hold the first p_limit + 1 eligible agents (by their counts) give their
-- best p_limit agents each, read from agents_routing_idx in base-point order; the p_limit-th best total among those
-- is a bar nobody below can pass, so a lesser profile is read only when its match points plus the highest possible
-- base points (performance + workload weights) reach the bar, and then only its agents at or above the bar. The
-- result is the same as ranking everyone (tests/db/test_assignment.py compares the two), and its cost follows the
-- profiles, not the roster. The cut is found from the match points' totals (a few distinct values: the profiles
-- grouped by their points), not by sorting and numbering every profile, and one sort both numbers and orders the
-- result: one call cost 2.98 M instructions before that, 2.46 M after (a fifth of a capture, docs/benchmarks.md).
-- (float8 arithmetic: the points are weights, not money. The signature changed, hence the drop.)
DROP FUNCTION IF EXISTS crm.rank_agents(crm.property_type, text[], text);
DROP FUNCTION IF EXISTS crm.rank_agents(crm.property_type, text[], text, integer, uuid);
DROP FUNCTION IF EXISTS crm.rank_agents(crm.property_type, text[], text, integer, uuid, jsonb);
CREATE FUNCTION crm.rank_agents(p_property_type crm.property_type, p_areas text[], p_language text,
                                p_limit integer DEFAULT NULL, p_exclude_agent uuid DEFAULT NULL,
                                p_weights jsonb DEFAULT NULL)
RETURNS TABLE (
    agent_id uuid, rank integer, fit float8,
    property_type_points float8, area_points float8, language_points float8,
    performance_points float8, workload_points float8,
    active_leads integer, max_active_leads integer, last_assigned_at timestamptz
)
LANGUAGE plpgsql
STABLE
SET search_path = ''
AS $$
DECLARE
    -- the assignment_weights setting, or the copy of it the caller read for the same decision (crm.choose_agent)
    v_weights  jsonb := coalesce(p_weights, crm.setting('assignment_weights'));
    v_type     float8 := v_weights ->> 'property_type';
    v_type_g   float8 := v_weights ->> 'property_type_generalist';
    v_area     float8 := v_weights ->> 'area';
    v_area_g   float8 := v_weights ->> 'area_generalist';
    v_lang     float8 := v_weights ->> 'language';
    v_perf     float8 := v_weights ->> 'performance';
    v_any_area boolean := coalesce(cardinality(p_areas), 0) > 0;
    -- no agent's base points exceed this: performance_score <= 100, free share <= 1
    v_max_base float8 := greatest(v_perf, 0) + greatest((v_weights ->> 'workload')::float8, 0);
    v_need     bigint := coalesce(p_limit::bigint, 2147483647) + 1;   -- one more: the excluded agent may be among them
BEGIN
    -- plpgsql, not sql: a SQL function with SET search_path is never inlined and is planned again on every call,
    -- while plpgsql keeps the plan of this query for the session.
    RETURN QUERY
    WITH classes AS MATERIALIZED (   -- every routing profile with an eligible agent, and its match points
        SELECT p.*, p.pt + p.ar + p.la AS match
          FROM (SELECT r.profile_id, r.eligible_agents,
                       CASE WHEN p_property_type IS NULL THEN 0
                            WHEN p_property_type = ANY (r.property_types) THEN v_type
                            WHEN cardinality(r.property_types) = 0 THEN v_type_g
                            ELSE 0 END AS pt,
                       CASE WHEN NOT v_any_area THEN 0
                            WHEN r.area_codes && p_areas THEN v_area
                            WHEN cardinality(r.area_codes) = 0 THEN v_area_g
                            ELSE 0 END AS ar,
                       CASE WHEN p_language = ANY (r.languages) THEN v_lang ELSE 0 END AS la
                  FROM crm.routing_profiles AS r
                 WHERE r.eligible_agents > 0) AS p
    ), cut AS (   -- the least match points m with fewer than v_need eligible agents above m
        SELECT min(m.match) AS match
          FROM (SELECT g.match, sum(g.agents) OVER (ORDER BY g.match DESC) - g.agents AS above
                  FROM (SELECT c.match, sum(c.eligible_agents) AS agents FROM classes AS c GROUP BY c.match) AS g) AS m
         WHERE m.above < v_need
    ), best AS MATERIALIZED (
        SELECT c.pt, c.ar, c.la, c.match + g.base_points AS total, g.*
          FROM classes AS c
         CROSS JOIN LATERAL (
               SELECT a.agent_id, a.base_points, a.performance_score, a.active_leads, a.max_active_leads,
                      a.last_assigned_at
                 FROM crm.agents AS a
                WHERE a.routing_profile_id = c.profile_id
                  AND a.is_active AND a.role = 'agent' AND a.active_leads < a.max_active_leads
                  AND a.agent_id IS DISTINCT FROM p_exclude_agent
                ORDER BY a.base_points DESC, a.last_assigned_at NULLS FIRST, a.agent_id
                LIMIT p_limit) AS g
         WHERE c.match >= (SELECT cut.match FROM cut)
    ), bar AS (   -- the p_limit-th best total so far (minus infinity when everyone was read)
        SELECT coalesce(CASE WHEN p_limit IS NOT NULL THEN
                   (SELECT b.total FROM best AS b ORDER BY b.total DESC OFFSET greatest(p_limit - 1, 0) LIMIT 1) END,
               '-Infinity'::float8) AS total
    ), rest AS (
        SELECT c.pt, c.ar, c.la, c.match + g.base_points AS total, g.*
          FROM classes AS c
         CROSS JOIN LATERAL (
               SELECT a.agent_id, a.base_points, a.performance_score, a.active_leads, a.max_active_leads,
                      a.last_assigned_at
                 FROM crm.agents AS a
                WHERE a.routing_profile_id = c.profile_id
                  AND a.is_active AND a.role = 'agent' AND a.active_leads < a.max_active_leads
                  AND a.agent_id IS DISTINCT FROM p_exclude_agent
                  AND a.base_points >= (SELECT bar.total FROM bar) - c.match - 1e-9
                ORDER BY a.base_points DESC, a.last_assigned_at NULLS FIRST, a.agent_id
                LIMIT p_limit) AS g
         WHERE c.match < (SELECT cut.match FROM cut)
           AND c.match + v_max_base >= (SELECT bar.total FROM bar) - 1e-9
    )
    -- one sort serves the numbering and the order (the first p_limit: LIMIT NULL is all)
    SELECT x.agent_id, (row_number() OVER w)::integer, x.total, x.pt, x.ar, x.la,
           x.performance_score::float8 / 100 * v_perf, x.base_points - x.performance_score::float8 / 100 * v_perf,
           x.active_leads::integer, x.max_active_leads::integer, x.last_assigned_at
      FROM (SELECT * FROM best UNION ALL SELECT * FROM rest) AS x
    WINDOW w AS (ORDER BY x.total DESC, x.last_assigned_at NULLS FIRST, x.agent_id)
     ORDER BY x.total DESC, x.last_assigned_at NULLS FIRST, x.agent_id
     LIMIT p_limit;
END
$$;
COMMENT ON FUNCTION crm.rank_agents(crm.property_type, text[], text, integer, uuid, jsonb) IS
    'Eligible agents for a lead (active, role agent, active_leads < max_active_leads; not p_exclude_agent), best first, '
    'the first p_limit (all when NULL), with their ranking points: property type and area specialisation (or the '
    'generalist share) and language from the agent''s routing profile, performance and free capacity from its '
    'base_points, weighted by the assignment_weights setting; rank 1 is the best, ties to the least recently assigned '
    '(round-robin). Reads candidates from agents_routing_idx, profile by profile, instead of scoring every agent. '
    'p_weights: the assignment_weights the caller read (NULL: read here).';

-- crm.eligible_agents(exclude): how many agents are eligible (active, role agent, under capacity), p_exclude_agent
-- not counted: the sum of the profiles' counts.
DROP FUNCTION IF EXISTS crm.eligible_agents(uuid);
CREATE FUNCTION crm.eligible_agents(p_exclude_agent uuid DEFAULT NULL)
RETURNS integer
LANGUAGE plpgsql
STABLE
SET search_path = ''
AS $$
BEGIN
    -- plpgsql: a SQL function with SET search_path is planned again on every call; and two statements, not one
    -- CASE on p_exclude_agent: a branch that a parameter's value folds away makes the plan custom, built every call
    IF p_exclude_agent IS NULL THEN
        RETURN coalesce((SELECT sum(r.eligible_agents) FROM crm.routing_profiles AS r), 0);
    END IF;
    RETURN coalesce((SELECT sum(r.eligible_agents) FROM crm.routing_profiles AS r), 0)
           - (SELECT count(*) FROM crm.agents AS g
               WHERE g.agent_id = p_exclude_agent AND g.is_active AND g.role = 'agent'
                 AND g.active_leads < g.max_active_leads);
END
$$;
COMMENT ON FUNCTION crm.eligible_agents(uuid) IS
    'The number of eligible agents (active, role agent, under capacity) but p_exclude_agent, from '
    'crm.routing_profiles.eligible_agents.';

-- crm.lock_preferred_agent(agent, exclude, t, minute, office week, require free): row-locks the preferred agent (a
-- duplicate's first agent, or a supervisor's pick) when available at t (crm.agent_free; with p_require_free false,
-- when neither paused nor absent: the night's pass), under capacity and not excluded, waiting for its lock; NULL
-- otherwise.
DROP FUNCTION IF EXISTS crm.choose_agent(crm.property_type, text[], text, uuid, uuid, timestamptz, boolean);
DROP FUNCTION IF EXISTS crm.reassign_lead(uuid, crm.assignment_kind, text, uuid, timestamptz, boolean);
DROP FUNCTION IF EXISTS crm.lock_preferred_agent(uuid, uuid);
DROP FUNCTION IF EXISTS crm.lock_preferred_agent(uuid, uuid, timestamptz, integer, int4multirange);
CREATE OR REPLACE FUNCTION crm.lock_preferred_agent(p_agent_id uuid, p_exclude_agent uuid, p_at timestamptz,
                                                    p_minute integer, p_office int4multirange,
                                                    p_require_free boolean DEFAULT true)
RETURNS uuid
LANGUAGE plpgsql
SET search_path = ''
AS $$
DECLARE
    v_agent uuid;
BEGIN
    IF p_agent_id IS NULL THEN
        RETURN NULL;
    END IF;
    SELECT g.agent_id INTO v_agent
      FROM crm.agents AS g
     WHERE g.agent_id = p_agent_id AND g.is_active AND g.active_leads < g.max_active_leads
       AND g.agent_id IS DISTINCT FROM p_exclude_agent
       AND crm.agent_can_take(g, p_at, p_minute, p_office, p_require_free)
       FOR NO KEY UPDATE;
    RETURN v_agent;
END
$$;
COMMENT ON FUNCTION crm.lock_preferred_agent(uuid, uuid, timestamptz, integer, int4multirange, boolean) IS
    'Assignment step: the preferred agent, row-locked (FOR NO KEY UPDATE, waiting), when available at t (with '
    'p_require_free false: neither paused nor absent) and under capacity; NULL otherwise.';

-- crm.lock_ranked_agent(order, wait, t, minute, office week): the first agent of the ranked list available at t
-- (crm.agent_free: active, not paused or absent, on shift; with p_require_free false, only neither paused nor
-- absent: the night's order of crm.choose_agent) and under capacity whose
-- row is not locked by a concurrent assignment (FOR NO KEY UPDATE SKIP LOCKED), locked; method ranked, or
-- ranked_after_wait when it took more than one pass. When every candidate is locked (each lock lasts one short
-- transaction) and p_wait, it polls again with a growing pause, up to about 1.4 s, instead of blocking, so this
-- transaction never waits while it might hold a lock another one needs (a blocking scan keeps rejected rows
-- locked). Availability is asked of the agent locked, not in the scan: the scan sorts every candidate before it
-- takes the first, so a condition in it would be asked of all 16 at every pass. The common case costs one question
-- (the best agent with room is available); when that one is not, or every one with room is locked, availability is
-- asked once of the whole list, which the passes then use (so it never waits for an unavailable agent's lock), and
-- again of each agent locked (a pause or an absence recorded meanwhile passes it
-- over). An agent locked and found unavailable stays locked to this transaction's end (concurrent routing skips it;
-- nothing else waits more than that). NULL agent: nobody free (the lead queues).
DROP FUNCTION IF EXISTS crm.lock_ranked_agent(uuid[], boolean);
CREATE OR REPLACE FUNCTION crm.lock_ranked_agent(p_order uuid[], p_wait boolean, p_at timestamptz, p_minute integer,
                                                 p_office int4multirange, p_require_free boolean DEFAULT true,
                                                 OUT agent_id uuid, OUT method text)
LANGUAGE plpgsql
SET search_path = ''
AS $$
DECLARE
    v_order    uuid[] := p_order;
    v_free     boolean;
    v_retry    boolean;
    v_filtered boolean := false;
BEGIN
    FOR i IN 0..CASE WHEN p_wait THEN 40 ELSE 0 END LOOP
        IF i > 0 THEN
            PERFORM pg_catalog.pg_sleep(least(0.05, 0.002 * i));
            EXIT WHEN NOT EXISTS (SELECT 1 FROM crm.agents AS g
                                   WHERE g.agent_id = ANY (v_order) AND g.is_active
                                     AND g.active_leads < g.max_active_leads);
        END IF;
        LOOP
            SELECT g.agent_id INTO agent_id
              FROM crm.agents AS g
              JOIN pg_catalog.unnest(v_order) WITH ORDINALITY AS o (agent_id, ord) ON o.agent_id = g.agent_id
             WHERE g.is_active AND g.active_leads < g.max_active_leads
             ORDER BY o.ord
             LIMIT 1
               FOR NO KEY UPDATE OF g SKIP LOCKED;
            v_retry := agent_id IS NOT NULL;
            IF v_retry THEN
                -- the locked row as it is now
                SELECT crm.agent_can_take(g, p_at, p_minute, p_office, p_require_free)
                  INTO v_free FROM crm.agents AS g WHERE g.agent_id = lock_ranked_agent.agent_id;
                IF v_free THEN
                    method := CASE WHEN i = 0 THEN 'ranked' ELSE 'ranked_after_wait' END;
                    RETURN;
                END IF;
                v_order := pg_catalog.array_remove(v_order, agent_id);
                agent_id := NULL;
            END IF;
            IF NOT v_filtered THEN
                -- the best with room is unavailable, or every one with room is locked: who of the list is available
                -- at t, asked once per decision (the passes then wait only for those)
                v_order := ARRAY(SELECT o.agent_id
                                   FROM pg_catalog.unnest(v_order) WITH ORDINALITY AS o (agent_id, ord)
                                   JOIN crm.agents AS g ON g.agent_id = o.agent_id
                                  WHERE crm.agent_can_take(g, p_at, p_minute, p_office, p_require_free)
                                  ORDER BY o.ord);
                v_filtered := true;
            END IF;
            EXIT WHEN NOT v_retry;   -- every one with room locked: the next pass, after a pause
        END LOOP;
    END LOOP;
END
$$;
COMMENT ON FUNCTION crm.lock_ranked_agent(uuid[], boolean, timestamptz, integer, int4multirange, boolean) IS
    'Assignment step: locks the first agent of p_order available at t (crm.agent_free; with p_require_free false: '
    'merely neither paused nor absent) and under capacity with FOR NO KEY UPDATE SKIP LOCKED, polling briefly (p_wait) '
    'while every candidate is locked; returns the agent (NULL: nobody) and method ranked or ranked_after_wait.';

-- crm.without(list, drop): the list without the ids of p_drop, in its order.
CREATE OR REPLACE FUNCTION crm.without(p_list uuid[], p_drop uuid[])
RETURNS uuid[]
LANGUAGE plpgsql
IMMUTABLE
SET search_path = ''
AS $$
BEGIN
    IF p_drop IS NULL OR cardinality(p_drop) = 0 THEN
        RETURN p_list;
    END IF;
    RETURN ARRAY(SELECT x FROM pg_catalog.unnest(p_list) WITH ORDINALITY AS u (x, i)
                  WHERE NOT x = ANY (p_drop) ORDER BY i);
END
$$;
COMMENT ON FUNCTION crm.without(uuid[], uuid[]) IS 'p_list without the ids in p_drop, order kept.';

-- crm.choose_agent(...): picks and LOCKS the agent for a lead; returns the decision as jsonb:
-- {"method": "preferred" | "ranked" | "ranked_after_wait" | "queued", "agent_id", "winner_rank", "eligible_count",
--  "available_now", "available_from", "candidates": the top five with their points, "weights", "decided_at", ...}.
-- agent_id is null when queued. Only agents available at p_now (crm.agent_free: active, not paused or absent, on
-- shift) are taken; when nobody with room is, the one whose availability starts first (never one paused or absent;
-- the preferred agent first on a tie, then by rank), available_now false and available_from saying when. The preferred agent (the agent of a duplicate's first
-- lead, or a supervisor's pick) is taken when available and under capacity, waiting for its row lock. Otherwise the ranked candidates are tried in order with
-- FOR NO KEY UPDATE SKIP LOCKED, so concurrent captures spread over agents instead of queueing behind one;
-- if every candidate is locked by someone else it polls again for up to about 1.4 s before queueing the lead,
-- unless p_wait is false (the queue drain, which runs at commit and may hold agent locks: it leaves the lead queued).
-- NO KEY UPDATE is the row lock of FOR UPDATE's family that an UPDATE of non-key columns takes anyway: the
-- counter UPDATE that follows needs no lock upgrade (an upgrade would queue behind other waiters and can
-- deadlock), and foreign-key checks of concurrent follow-up inserts (KEY SHARE) are not blocked.
CREATE OR REPLACE FUNCTION crm.choose_agent(
    p_property_type   crm.property_type,
    p_areas           text[],
    p_language        text,
    p_preferred_agent uuid DEFAULT NULL,
    p_exclude_agent   uuid DEFAULT NULL,
    p_now             timestamptz DEFAULT NULL,
    p_wait            boolean DEFAULT true,
    p_skip            uuid[] DEFAULT NULL
)
RETURNS jsonb
LANGUAGE plpgsql
SET search_path = ''
AS $$
DECLARE
    -- the availability clock of this decision: t, its minute of the week, the office's hours (crm.agent_free)
    v_at         timestamptz := coalesce(p_now, now());
    v_minute     integer := crm.minute_of_week(v_at);
    v_office     int4multirange := crm.office_week();
    v_agent      uuid := CASE WHEN p_preferred_agent = ANY (p_skip) THEN NULL
                          ELSE crm.lock_preferred_agent(p_preferred_agent, p_exclude_agent, v_at, v_minute, v_office) END;
    v_method     text := CASE WHEN v_agent IS NOT NULL THEN 'preferred' END;
    v_candidates jsonb;
    v_order      uuid[];
    v_eligible   integer := crm.eligible_agents(p_exclude_agent);
    v_ranked     record;   -- crm.lock_ranked_agent
    v_from       timestamptz;
    v_open       timestamptz;   -- when the office next opens (the night's ranking)
    v_weights    jsonb := crm.setting('assignment_weights');   -- read once: every ranking below and the decision
BEGIN
    -- the best 16: each concurrent capture holds one candidate's lock for its short transaction, so 16 serve up to 16
    -- captures of the same kind of lead at once; when all 16 are locked or unavailable the whole ranking follows
    -- (below). 32 cost 5 % more a capture (docs/benchmarks.md): the cut of the ranking falls on larger groups of
    -- profiles with equal match points, whose agents are all read. In rank order, read in the order the function
    -- returns them (WITH ORDINALITY: the planner knows that order, so neither aggregate sorts its input again)
    SELECT coalesce(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
               'agent_id', r.agent_id, 'rank', r.rank, 'fit', round(r.fit::numeric, 2),
               'property_type_points', r.property_type_points, 'area_points', r.area_points,
               'language_points', r.language_points, 'performance_points', round(r.performance_points::numeric, 2),
               'workload_points', round(r.workload_points::numeric, 2), 'active_leads', r.active_leads,
               'max_active_leads', r.max_active_leads, 'last_assigned_at', r.last_assigned_at)
               ORDER BY r.ord) FILTER (WHERE r.rank <= 5), '[]'::jsonb),
           pg_catalog.array_agg(r.agent_id ORDER BY r.ord)
      INTO v_candidates, v_order
      FROM crm.rank_agents(p_property_type, p_areas, p_language, 16, p_exclude_agent, v_weights)
           WITH ORDINALITY AS r (agent_id, rank, fit, property_type_points, area_points, language_points,
                                 performance_points, workload_points, active_leads, max_active_leads, last_assigned_at,
                                 ord);
    v_order := crm.without(v_order, p_skip);

    IF v_agent IS NULL AND v_eligible > 0 THEN
        -- wait for a locked candidate only when these are all there are
        -- (assigned, not SELECT * INTO v_ranked FROM ...: an expression costs less than a statement)
        v_ranked := crm.lock_ranked_agent(v_order, p_wait AND v_eligible <= coalesce(cardinality(v_order), 0), v_at,
                                          v_minute, v_office);
        IF v_ranked.agent_id IS NULL AND v_eligible > coalesce(cardinality(v_order), 0) THEN
            -- every one of the best 16 is held by a concurrent assignment or unavailable: the whole ranking
            v_order := crm.without(ARRAY(SELECT r.agent_id FROM crm.rank_agents(p_property_type, p_areas, p_language,
                                                                               NULL, p_exclude_agent, v_weights) AS r
                                          ORDER BY r.rank), p_skip);
            v_ranked := crm.lock_ranked_agent(v_order, p_wait, v_at, v_minute, v_office);
        END IF;
        v_agent := v_ranked.agent_id;
        v_method := v_ranked.method;
        -- (two IFs, not one AND: a condition that a variable's value folds away is planned again on every call)
        IF v_agent IS NULL THEN
            IF NOT EXISTS (
                   SELECT 1 FROM crm.agents AS g
                    WHERE g.agent_id = ANY (v_order) AND g.is_active AND g.active_leads < g.max_active_leads
                      AND crm.agent_free(g, v_at, v_minute, v_office)) THEN
                -- nobody with room is available now (the night): the whole ranking again, by when each one's
                -- availability starts (never one paused or absent now), the preferred agent first on a tie, then by rank
                v_open := crm.business_open_at(v_at);
                IF cardinality(v_order) < v_eligible THEN
                    v_order := crm.without(ARRAY(SELECT r.agent_id FROM crm.rank_agents(p_property_type, p_areas,
                                                       p_language, NULL, p_exclude_agent, v_weights) AS r
                                                  ORDER BY r.rank), p_skip);
                END IF;
                v_order := ARRAY(
                    SELECT o.agent_id
                      FROM pg_catalog.unnest(pg_catalog.array_prepend(
                               CASE WHEN p_preferred_agent = ANY (p_skip) THEN NULL ELSE p_preferred_agent END, v_order))
                           WITH ORDINALITY AS o (agent_id, ord)
                      JOIN crm.agents AS g ON g.agent_id = o.agent_id
                     WHERE g.is_active AND g.active_leads < g.max_active_leads AND crm.agent_away(g, v_at) IS NULL
                       AND g.agent_id IS DISTINCT FROM p_exclude_agent
                     ORDER BY crm.next_available_at(g, v_at, v_open) NULLS LAST, o.ord);
                IF v_order[1] = p_preferred_agent THEN   -- its availability starts first: wait for it, as by day
                    v_agent := crm.lock_preferred_agent(p_preferred_agent, p_exclude_agent, v_at, v_minute, v_office, false);
                    v_method := CASE WHEN v_agent IS NOT NULL THEN 'preferred' END;
                END IF;
                IF v_agent IS NULL THEN
                    v_ranked := crm.lock_ranked_agent(v_order, p_wait, v_at, v_minute, v_office, false);
                    v_agent := v_ranked.agent_id;
                    v_method := v_ranked.method;
                END IF;
                v_from := (SELECT crm.agent_available_from(g, v_at) FROM crm.agents AS g WHERE g.agent_id = v_agent);
            END IF;
        END IF;
    END IF;

    RETURN pg_catalog.jsonb_build_object(
        'method', coalesce(v_method, 'queued'),
        'agent_id', v_agent,
        'winner_rank', pg_catalog.array_position(v_order, v_agent),
        'eligible_count', v_eligible,
        'preferred_agent_id', p_preferred_agent,
        'available_now', v_agent IS NOT NULL AND v_from IS NULL,
        'available_from', CASE WHEN v_agent IS NOT NULL THEN coalesce(v_from, v_at) END,
        'candidates', v_candidates,
        'weights', v_weights,
        'decided_at', coalesce(p_now, now()));
END
$$;
COMMENT ON FUNCTION crm.choose_agent(crm.property_type, text[], text, uuid, uuid, timestamptz, boolean, uuid[]) IS
    'Chooses and row-locks the agent for a lead (preferred agent if free, else the best ranked with FOR NO KEY UPDATE SKIP '
    'LOCKED, polling briefly when every candidate is locked and p_wait) and returns the decision: method, agent_id (null = queue), '
    'winner_rank, eligible_count and the top five candidates with their points.';

-- crm.assign_lead(lead, kind, ...): gives an existing lead without an open assignment to an agent, or queues it.
-- Returns the decision (agent_id null when queued). The caller holds the lead (new, or locked FOR UPDATE).
-- Errors: PT409 lead_already_assigned, PT409 lead_closed.
CREATE OR REPLACE FUNCTION crm.assign_lead(
    p_lead_id         uuid,
    p_kind            crm.assignment_kind,
    p_preferred_agent uuid DEFAULT NULL,
    p_exclude_agent   uuid DEFAULT NULL,
    p_reason          text DEFAULT NULL,
    p_now             timestamptz DEFAULT NULL,
    p_wait            boolean DEFAULT true
)
RETURNS jsonb
LANGUAGE plpgsql
SET search_path = ''
AS $$
DECLARE
    v_now      timestamptz := coalesce(p_now, now());
    v_lead     crm.leads;
    v_decision jsonb;
BEGIN
    SELECT * INTO v_lead FROM crm.leads AS l WHERE l.lead_id = p_lead_id;
    IF crm.is_closed(v_lead.status) THEN
        RAISE EXCEPTION 'lead % is % and cannot be assigned', p_lead_id, v_lead.status
            USING ERRCODE = 'PT409', CONSTRAINT = 'lead_closed',
                  DETAIL = pg_catalog.json_build_object('lead_id', p_lead_id, 'status', v_lead.status)::text;
    END IF;
    IF EXISTS (SELECT 1 FROM crm.lead_assignments AS a WHERE a.lead_id = p_lead_id AND a.released_at IS NULL) THEN
        RAISE EXCEPTION 'lead % already has an agent', p_lead_id
            USING ERRCODE = 'PT409', CONSTRAINT = 'lead_already_assigned',
                  DETAIL = pg_catalog.json_build_object('lead_id', p_lead_id)::text;
    END IF;

    v_decision := crm.choose_agent(
        v_lead.property_type,
        ARRAY(SELECT p.area_code FROM crm.lead_preferred_areas AS p WHERE p.lead_id = p_lead_id),
        v_lead.language_preference, p_preferred_agent, p_exclude_agent, v_now, p_wait)
        || pg_catalog.jsonb_build_object('kind', p_kind, 'reason', p_reason);

    IF v_decision ->> 'agent_id' IS NULL THEN
        UPDATE crm.leads SET queued_at = coalesce(queued_at, v_now), assignment_decision = v_decision
         WHERE lead_id = p_lead_id;
    ELSE
        INSERT INTO crm.lead_assignments (lead_id, agent_id, kind, reason, assigned_at)
        VALUES (p_lead_id, (v_decision ->> 'agent_id')::uuid, p_kind, p_reason, v_now);
        UPDATE crm.leads SET assignment_decision = v_decision, pooled_at = NULL, pond_alerted_at = NULL  -- out of the pond
         WHERE lead_id = p_lead_id;
    END IF;
    RETURN v_decision;
END
$$;
COMMENT ON FUNCTION crm.assign_lead(uuid, crm.assignment_kind, uuid, uuid, text, timestamptz, boolean) IS
    'Assigns a lead that has no agent (crm.choose_agent, then an open crm.lead_assignments row) or queues it; stores the '
    'decision in leads.assignment_decision. Errors: PT409 lead_already_assigned, PT409 lead_closed.';

-- crm.drain_assignment_queue(limit, now): assigns queued leads, highest score first, then oldest, while agents
-- have room; books each one's initial follow-up. Returns how many were assigned. Concurrent drains skip each
-- other's leads (SKIP LOCKED).
CREATE OR REPLACE FUNCTION crm.drain_assignment_queue(p_limit integer DEFAULT 100, p_now timestamptz DEFAULT NULL)
RETURNS integer
LANGUAGE plpgsql
SET search_path = ''
AS $$
DECLARE
    v_now      timestamptz := coalesce(p_now, now());
    v_lead     record;
    v_decision jsonb;
    v_done     integer := 0;
BEGIN
    FOR v_lead IN
        SELECT l.lead_id, l.score
          FROM crm.leads AS l
         WHERE l.queued_at IS NOT NULL
         ORDER BY l.score DESC, l.created_at
         LIMIT p_limit
           FOR UPDATE SKIP LOCKED
    LOOP
        -- no waiting for a locked agent: the drain may run at the commit of a transaction that holds agent locks
        v_decision := crm.assign_lead(v_lead.lead_id, 'queue_drain', NULL, NULL, 'capacity freed', v_now, false);
        EXIT WHEN v_decision ->> 'agent_id' IS NULL;   -- nobody has room: the rest wait too
        IF NOT EXISTS (SELECT 1 FROM crm.follow_up_tasks AS t WHERE t.lead_id = v_lead.lead_id AND t.status = 'open') THEN
            PERFORM crm.schedule_initial_follow_up(v_lead.lead_id, (v_decision ->> 'agent_id')::uuid, v_lead.score, v_now);
        END IF;
        v_done := v_done + 1;
    END LOOP;
    RETURN v_done;
END
$$;
COMMENT ON FUNCTION crm.drain_assignment_queue(integer, timestamptz) IS
    'Assigns up to p_limit queued leads (highest score, then oldest) to agents with room, booking their first follow-up; '
    'stops at the first lead nobody can take. Returns the number assigned.';

-- Capacity frees when an open lead leaves an agent, when an agent's capacity grows, or when an agent
-- (re)joins. These constraint triggers run at COMMIT (deferred), after the transaction's own work, and drain
-- as many queued leads as slots were freed.
-- SECURITY DEFINER: deferred triggers fire at COMMIT, outside the api function that caused them, i.e. as the
-- app's login, which has no rights on crm; the drain must run with the owner's rights like the api function did.
CREATE OR REPLACE FUNCTION crm.drain_on_freed_capacity()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = ''
AS $$
DECLARE
    v_slots integer := 1;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM crm.leads AS l WHERE l.queued_at IS NOT NULL) THEN
        RETURN NULL;
    END IF;
    IF TG_TABLE_NAME = 'agents' THEN
        v_slots := greatest(0, NEW.max_active_leads - NEW.active_leads);
    END IF;
    IF v_slots > 0 THEN
        PERFORM crm.drain_assignment_queue(v_slots);
    END IF;
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION crm.drain_on_freed_capacity() IS
    'Deferred trigger: when capacity frees (an open lead released or closed, an agent added, reactivated or given more '
    'room), assigns that many queued leads at commit. SECURITY DEFINER: queued leads go to any agent, whoever freed '
    'the capacity.';

DROP TRIGGER IF EXISTS lead_assignments_60_drain_queue ON crm.lead_assignments;
CREATE CONSTRAINT TRIGGER lead_assignments_60_drain_queue AFTER UPDATE OF released_at ON crm.lead_assignments
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW WHEN (OLD.released_at IS NULL AND NEW.released_at IS NOT NULL)
    EXECUTE FUNCTION crm.drain_on_freed_capacity();

DROP TRIGGER IF EXISTS leads_60_drain_queue ON crm.leads;
CREATE CONSTRAINT TRIGGER leads_60_drain_queue AFTER UPDATE OF status ON crm.leads
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW WHEN (NOT crm.is_closed(OLD.status) AND crm.is_closed(NEW.status))
    EXECUTE FUNCTION crm.drain_on_freed_capacity();

DROP TRIGGER IF EXISTS agents_60_drain_queue ON crm.agents;
CREATE CONSTRAINT TRIGGER agents_60_drain_queue AFTER INSERT OR UPDATE OF is_active, max_active_leads, role ON crm.agents
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW WHEN (NEW.is_active AND NEW.role = 'agent')
    EXECUTE FUNCTION crm.drain_on_freed_capacity();

-- crm.reassign_lead(lead, kind, reason, new_agent, now, wait): moves an open lead to another agent: closes the open
-- assignment row and opens a new one (counters follow by trigger), moves the lead's open follow-ups to the new
-- agent as one new first follow-up, and logs an 'assignment' activity. With p_new_agent the target must be active,
-- an agent, and under capacity; without it the ranking picks the best agent other than the current one.
-- Returns {"from_agent_id", "to_agent_id", "kind", "decision"}; "to_agent_id" null when nobody could take it (the
-- lead then stays where it was). The caller has locked the lead row.
-- Errors: PT409 lead_closed, PT409 same_agent, PT404 agent_not_found, PT409 agent_inactive, PT409 agent_full.
CREATE OR REPLACE FUNCTION crm.reassign_lead(p_lead_id uuid, p_kind crm.assignment_kind, p_reason text,
                                             p_new_agent uuid DEFAULT NULL, p_now timestamptz DEFAULT NULL,
                                             p_wait boolean DEFAULT true, p_skip uuid[] DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql
SET search_path = ''
AS $$
DECLARE
    -- the clock of the move: after the lead's lock was won (not the transaction's start, which may precede a
    -- concurrent reassignment that committed while this one waited for the lock)
    v_now      timestamptz := coalesce(p_now, pg_catalog.clock_timestamp());
    v_lead     crm.leads;
    v_from     uuid;
    v_target   crm.agents;
    v_decision jsonb;
    v_to       uuid;
    v_moved    integer;
BEGIN
    SELECT * INTO v_lead FROM crm.leads AS l WHERE l.lead_id = p_lead_id;
    IF crm.is_closed(v_lead.status) THEN
        RAISE EXCEPTION 'lead % is % and keeps its agent', p_lead_id, v_lead.status
            USING ERRCODE = 'PT409', CONSTRAINT = 'lead_closed',
                  DETAIL = pg_catalog.json_build_object('lead_id', p_lead_id, 'status', v_lead.status)::text;
    END IF;
    SELECT a.agent_id, greatest(v_now, a.assigned_at) INTO v_from, v_now
      FROM crm.lead_assignments AS a WHERE a.lead_id = p_lead_id AND a.released_at IS NULL;
    v_now := coalesce(v_now, coalesce(p_now, pg_catalog.clock_timestamp()));  -- (no open assignment: as given)

    IF p_new_agent IS NOT NULL THEN
        IF p_new_agent = v_from THEN
            RAISE EXCEPTION 'lead % is already with agent %', p_lead_id, p_new_agent
                USING ERRCODE = 'PT409', CONSTRAINT = 'same_agent',
                      DETAIL = pg_catalog.json_build_object('lead_id', p_lead_id, 'agent_id', p_new_agent)::text;
        END IF;
        -- lock both agents in one order (by id), so two opposite reassignments cannot deadlock
        PERFORM 1 FROM crm.agents AS g WHERE g.agent_id IN (v_from, p_new_agent) ORDER BY g.agent_id FOR NO KEY UPDATE;
        SELECT * INTO v_target FROM crm.agents AS g WHERE g.agent_id = p_new_agent;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'agent % does not exist', p_new_agent USING ERRCODE = 'PT404', CONSTRAINT = 'agent_not_found',
                DETAIL = pg_catalog.json_build_object('agent_id', p_new_agent)::text;
        ELSIF NOT v_target.is_active THEN
            RAISE EXCEPTION 'agent % is not active', p_new_agent USING ERRCODE = 'PT409', CONSTRAINT = 'agent_inactive',
                DETAIL = pg_catalog.json_build_object('agent_id', p_new_agent)::text;
        ELSIF v_target.active_leads >= v_target.max_active_leads THEN
            RAISE EXCEPTION 'agent % has no free capacity (% of %)', p_new_agent, v_target.active_leads,
                            v_target.max_active_leads
                USING ERRCODE = 'PT409', CONSTRAINT = 'agent_full',
                      DETAIL = pg_catalog.json_build_object('agent_id', p_new_agent, 'active_leads', v_target.active_leads,
                                                            'max_active_leads', v_target.max_active_leads)::text;
        END IF;
        v_to := p_new_agent;
        v_decision := pg_catalog.jsonb_build_object('method', 'manual', 'agent_id', v_to, 'decided_at', v_now);
    ELSE
        v_decision := crm.choose_agent(
            v_lead.property_type,
            ARRAY(SELECT p.area_code FROM crm.lead_preferred_areas AS p WHERE p.lead_id = p_lead_id),
            v_lead.language_preference, NULL, v_from, v_now, p_wait, p_skip);
        v_to := (v_decision ->> 'agent_id')::uuid;
        IF v_to IS NULL THEN
            RETURN pg_catalog.jsonb_build_object('from_agent_id', v_from, 'to_agent_id', NULL, 'kind', p_kind,
                                                 'decision', v_decision);
        END IF;
    END IF;
    v_decision := v_decision || pg_catalog.jsonb_build_object('kind', p_kind, 'reason', p_reason, 'from_agent_id', v_from);

    UPDATE crm.lead_assignments SET released_at = v_now, release_reason = coalesce(p_reason, p_kind::text)
     WHERE lead_id = p_lead_id AND released_at IS NULL;
    INSERT INTO crm.lead_assignments (lead_id, agent_id, kind, reason, assigned_at)
    VALUES (p_lead_id, v_to, p_kind, p_reason, v_now);
    UPDATE crm.leads SET assignment_decision = v_decision, pooled_at = NULL, pond_alerted_at = NULL   -- out of the pond
     WHERE lead_id = p_lead_id;

    -- the old agent's open follow-ups for this lead go: the new agent gets one first follow-up of their own
    UPDATE crm.follow_up_tasks SET status = 'cancelled', completed_at = v_now,
                                   notes = coalesce(notes || ' ', '') || '(reassigned)'
     WHERE lead_id = p_lead_id AND status = 'open';
    GET DIAGNOSTICS v_moved = ROW_COUNT;
    PERFORM crm.schedule_initial_follow_up(p_lead_id, v_to, v_lead.score, v_now);

    INSERT INTO crm.lead_activities (lead_id, activity_type, notes, details, occurred_at)
    VALUES (p_lead_id, 'assignment', 'Reassigned (' || p_kind || '): ' || coalesce(p_reason, ''),
            pg_catalog.jsonb_build_object('from_agent_id', v_from, 'to_agent_id', v_to, 'kind', p_kind,
                                          'reason', p_reason, 'follow_ups_cancelled', v_moved),
            v_now);
    RETURN pg_catalog.jsonb_build_object('from_agent_id', v_from, 'to_agent_id', v_to, 'kind', p_kind,
                                         'decision', v_decision);
END
$$;
COMMENT ON FUNCTION crm.reassign_lead(uuid, crm.assignment_kind, text, uuid, timestamptz, boolean, uuid[]) IS
    'Moves an open lead to another agent (the given one, or the best ranked other than the current): releases the old '
    'assignment, opens the new one, replaces the open follow-ups with a first follow-up for the new agent, logs an '
    'assignment activity. Errors: PT409 lead_closed, PT409 same_agent, PT404 agent_not_found, PT409 agent_inactive, '
    'PT409 agent_full.';
