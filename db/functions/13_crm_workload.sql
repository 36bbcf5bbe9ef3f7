-- The workload counter (crm.agents.active_leads) and the assignment rules.
--
-- active_leads = number of open (not converted / lost) leads whose open assignment row is the agent.
-- It moves only here: +1 when an open assignment of an open lead is inserted, -1 when that assignment
-- is released or when its lead reaches a terminal status. The UPDATE of the agent row takes its row
-- lock, so concurrent assignments to one agent serialize, and the CHECK agents_capacity
-- (active_leads <= max_active_leads <= 50) refuses the one that would pass capacity (SQLSTATE 23514).

-- BEFORE INSERT ON crm.lead_assignments.
-- Errors: PT409 agent_inactive, PT409 agent_unavailable (the agent is paused or absent at assigned_at; imports
-- aside), PT409 lead_closed (an open assignment for a converted/lost lead).
CREATE OR REPLACE FUNCTION crm.lead_assignments_check_new()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = ''
AS $$
DECLARE
    v_active boolean;
    v_away   text;
BEGIN
    NEW.assigned_by := crm.recorded_actor(NEW.assigned_by);
    IF NEW.released_at IS NULL THEN
        -- the agent read once: active, and why away at assigned_at (an import is recorded as it was)
        SELECT g.is_active, CASE WHEN NEW.kind <> 'import' THEN crm.agent_away(g, NEW.assigned_at) END
          INTO v_active, v_away
          FROM crm.agents AS g WHERE g.agent_id = NEW.agent_id;
        IF NOT coalesce(v_active, false) THEN
            RAISE EXCEPTION 'agent % is not active', NEW.agent_id
                USING ERRCODE = 'PT409', CONSTRAINT = 'agent_inactive',
                      DETAIL = pg_catalog.json_build_object('agent_id', NEW.agent_id)::text;
        END IF;
        IF v_away IS NOT NULL THEN
            RAISE EXCEPTION 'agent % is % and takes no lead', NEW.agent_id, v_away
                USING ERRCODE = 'PT409', CONSTRAINT = 'agent_unavailable',
                      DETAIL = pg_catalog.json_build_object('agent_id', NEW.agent_id, 'reason', v_away)::text;
        END IF;
        IF EXISTS (SELECT 1 FROM crm.leads AS l WHERE l.lead_id = NEW.lead_id AND crm.is_closed(l.status)) THEN
            RAISE EXCEPTION 'lead % is closed and cannot be assigned', NEW.lead_id
                USING ERRCODE = 'PT409', CONSTRAINT = 'lead_closed',
                      DETAIL = pg_catalog.json_build_object('lead_id', NEW.lead_id)::text;
        END IF;
    END IF;
    RETURN NEW;
END
$$;
COMMENT ON FUNCTION crm.lead_assignments_check_new() IS
    'Trigger: an open assignment needs an active agent, not paused or absent, and an open lead. Errors: PT409 '
    'agent_inactive, PT409 agent_unavailable, PT409 lead_closed.';

CREATE OR REPLACE TRIGGER lead_assignments_10_check_new BEFORE INSERT ON crm.lead_assignments
    FOR EACH ROW EXECUTE FUNCTION crm.lead_assignments_check_new();

-- BEFORE UPDATE ON crm.lead_assignments: a row may only be released (once) and stamped with
-- its first activity and its acceptance (once each). Errors: PT409 lead_assignments_immutable.
CREATE OR REPLACE FUNCTION crm.lead_assignments_check_update()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = ''
AS $$
BEGIN
    IF NEW.lead_id <> OLD.lead_id OR NEW.agent_id <> OLD.agent_id OR NEW.kind <> OLD.kind
       OR NEW.assigned_at <> OLD.assigned_at OR NEW.assigned_by <> OLD.assigned_by
       OR NEW.reason IS DISTINCT FROM OLD.reason
       OR (OLD.released_at IS NOT NULL AND (NEW.released_at IS DISTINCT FROM OLD.released_at
                                             OR NEW.release_reason IS DISTINCT FROM OLD.release_reason))
       OR (OLD.first_activity_at IS NOT NULL AND NEW.first_activity_at IS DISTINCT FROM OLD.first_activity_at)
       OR (OLD.accepted_at IS NOT NULL AND NEW.accepted_at IS DISTINCT FROM OLD.accepted_at)
       OR NEW.respond_by IS DISTINCT FROM OLD.respond_by OR NEW.offer_round IS DISTINCT FROM OLD.offer_round
    THEN
        RAISE EXCEPTION 'assignment % can only be released once; reassign by opening a new row', OLD.assignment_id
            USING ERRCODE = 'PT409', CONSTRAINT = 'lead_assignments_immutable',
                  DETAIL = pg_catalog.json_build_object('assignment_id', OLD.assignment_id)::text;
    END IF;
    RETURN NEW;
END
$$;
COMMENT ON FUNCTION crm.lead_assignments_check_update() IS
    'Trigger: assignment rows are history; only released_at/release_reason (once) and first_activity_at (once) may be set. '
    'Errors: PT409 lead_assignments_immutable.';

CREATE OR REPLACE TRIGGER lead_assignments_10_check_update BEFORE UPDATE ON crm.lead_assignments
    FOR EACH ROW EXECUTE FUNCTION crm.lead_assignments_check_update();

-- AFTER INSERT OR UPDATE OF released_at ON crm.lead_assignments: move the counter.
CREATE OR REPLACE FUNCTION crm.lead_assignments_count()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = ''
AS $$
DECLARE
    v_lead_open boolean;
BEGIN
    SELECT NOT crm.is_closed(l.status) INTO v_lead_open FROM crm.leads AS l WHERE l.lead_id = NEW.lead_id;

    IF TG_OP = 'INSERT' AND NEW.released_at IS NULL THEN
        IF v_lead_open THEN
            UPDATE crm.agents
               SET active_leads = active_leads + 1,
                   last_assigned_at = greatest(last_assigned_at, NEW.assigned_at)
             WHERE agent_id = NEW.agent_id;
        END IF;
        UPDATE crm.leads SET queued_at = NULL WHERE lead_id = NEW.lead_id AND queued_at IS NOT NULL;
    ELSIF TG_OP = 'UPDATE' AND OLD.released_at IS NULL AND NEW.released_at IS NOT NULL AND v_lead_open THEN
        UPDATE crm.agents SET active_leads = active_leads - 1 WHERE agent_id = NEW.agent_id;
    END IF;
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION crm.lead_assignments_count() IS
    'Trigger: keeps crm.agents.active_leads exact as assignments open and close; opening one takes the lead out of the queue.';

CREATE OR REPLACE TRIGGER lead_assignments_20_count AFTER INSERT OR UPDATE OF released_at ON crm.lead_assignments
    FOR EACH ROW EXECUTE FUNCTION crm.lead_assignments_count();

-- AFTER UPDATE OF status ON crm.leads: a lead that closes stops counting against its agent.
CREATE OR REPLACE FUNCTION crm.leads_release_workload()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = ''
AS $$
BEGIN
    IF NOT crm.is_closed(OLD.status) AND crm.is_closed(NEW.status) THEN
        UPDATE crm.agents AS g
           SET active_leads = g.active_leads - 1
          FROM crm.lead_assignments AS a
         WHERE a.lead_id = NEW.lead_id AND a.released_at IS NULL AND g.agent_id = a.agent_id;
    END IF;
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION crm.leads_release_workload() IS 'Trigger: a converted or lost lead no longer counts in its agent''s active_leads. '
    'SECURITY DEFINER: keeps derived rows no caller may write, also when a caller''s own UPDATE (under row-level security) fires it.';

CREATE OR REPLACE TRIGGER leads_50_release_workload AFTER UPDATE OF status ON crm.leads
    FOR EACH ROW EXECUTE FUNCTION crm.leads_release_workload();

-- BEFORE UPDATE OF active_leads ON crm.agents: the counter is the triggers' alone.
-- A hand-written UPDATE of active_leads is refused (PT409 agents_active_leads_derived) unless it comes
-- from one of the counting triggers above (pg_trigger_depth() > 1).
CREATE OR REPLACE FUNCTION crm.agents_guard_counter()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = ''
AS $$
BEGIN
    IF NEW.active_leads IS DISTINCT FROM OLD.active_leads AND pg_catalog.pg_trigger_depth() < 2 THEN
        RAISE EXCEPTION 'agents.active_leads is maintained by triggers and cannot be set directly'
            USING ERRCODE = 'PT409', CONSTRAINT = 'agents_active_leads_derived',
                  HINT = 'Open or release a row in crm.lead_assignments instead.';
    END IF;
    IF (NEW.property_types, NEW.area_codes, NEW.languages) IS DISTINCT FROM (OLD.property_types, OLD.area_codes, OLD.languages)
       AND pg_catalog.pg_trigger_depth() < 2 THEN
        RAISE EXCEPTION 'an agent''s routing profile is copied from its specialisation tables and cannot be set directly'
            USING ERRCODE = 'PT409', CONSTRAINT = 'agents_profile_derived',
                  HINT = 'Insert or delete rows of crm.agent_property_types, crm.agent_areas or crm.agent_languages.';
    END IF;
    IF (NEW.weekly_hours, NEW.absent) IS DISTINCT FROM (OLD.weekly_hours, OLD.absent) AND pg_catalog.pg_trigger_depth() < 2 THEN
        RAISE EXCEPTION 'an agent''s working hours and absences are copied from their tables and cannot be set directly'
            USING ERRCODE = 'PT409', CONSTRAINT = 'agents_availability_derived',
                  HINT = 'Write crm.agent_working_hours or crm.agent_absences (PUT .../schedule, POST .../absences).';
    END IF;
    RETURN NEW;
END
$$;
COMMENT ON FUNCTION crm.agents_guard_counter() IS
    'Trigger: refuses direct writes of the derived columns of crm.agents (active_leads; the routing profile '
    'property_types, area_codes, languages; the availability copies weekly_hours, absent). Errors: PT409 '
    'agents_active_leads_derived, PT409 agents_profile_derived, PT409 agents_availability_derived.';

CREATE OR REPLACE TRIGGER agents_20_guard_counter
    BEFORE UPDATE OF active_leads, property_types, area_codes, languages, weekly_hours, absent ON crm.agents
    FOR EACH ROW EXECUTE FUNCTION crm.agents_guard_counter();

-- AFTER INSERT, UPDATE or DELETE on crm.agent_property_types / agent_areas / agent_languages: copy the
-- agent's specialisations onto its row (crm.agents.property_types, area_codes, languages), which ranking reads.
CREATE OR REPLACE FUNCTION crm.agents_sync_profile()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = ''
AS $$
BEGIN
    UPDATE crm.agents AS g
       SET property_types = coalesce((SELECT pg_catalog.array_agg(t.property_type ORDER BY t.property_type)
                                        FROM crm.agent_property_types AS t WHERE t.agent_id = g.agent_id), '{}'),
           area_codes = coalesce((SELECT pg_catalog.array_agg(a.area_code ORDER BY a.area_code)
                                    FROM crm.agent_areas AS a WHERE a.agent_id = g.agent_id), '{}'),
           languages = coalesce((SELECT pg_catalog.array_agg(l.language ORDER BY l.language)
                                   FROM crm.agent_languages AS l WHERE l.agent_id = g.agent_id), '{}')
     WHERE g.agent_id IN (CASE WHEN TG_OP <> 'INSERT' THEN OLD.agent_id END,
                          CASE WHEN TG_OP <> 'DELETE' THEN NEW.agent_id END);
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION crm.agents_sync_profile() IS
    'Trigger: keeps the routing profile on crm.agents (property_types, area_codes, languages) equal to the agent''s rows in '
    'crm.agent_property_types, crm.agent_areas and crm.agent_languages.';

CREATE OR REPLACE TRIGGER agent_property_types_20_sync_profile AFTER INSERT OR UPDATE OR DELETE ON crm.agent_property_types
    FOR EACH ROW EXECUTE FUNCTION crm.agents_sync_profile();
CREATE OR REPLACE TRIGGER agent_areas_20_sync_profile AFTER INSERT OR UPDATE OR DELETE ON crm.agent_areas
    FOR EACH ROW EXECUTE FUNCTION crm.agents_sync_profile();
CREATE OR REPLACE TRIGGER agent_languages_20_sync_profile AFTER INSERT OR UPDATE OR DELETE ON crm.agent_languages
    FOR EACH ROW EXECUTE FUNCTION crm.agents_sync_profile();

CREATE OR REPLACE FUNCTION crm.agents_check_new()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = ''
AS $$
BEGIN
    IF NEW.active_leads <> 0 THEN
        RAISE EXCEPTION 'a new agent starts with no active leads'
            USING ERRCODE = 'PT409', CONSTRAINT = 'agents_active_leads_derived';
    END IF;
    IF cardinality(NEW.property_types) + cardinality(NEW.area_codes) + cardinality(NEW.languages) > 0 THEN
        RAISE EXCEPTION 'a new agent starts with an empty routing profile; add rows to its specialisation tables'
            USING ERRCODE = 'PT409', CONSTRAINT = 'agents_profile_derived';
    END IF;
    IF NEW.weekly_hours IS NOT NULL OR NEW.absent <> '{}' THEN
        RAISE EXCEPTION 'a new agent starts without hours or absences of its own; add rows to their tables'
            USING ERRCODE = 'PT409', CONSTRAINT = 'agents_availability_derived';
    END IF;
    RETURN NEW;
END
$$;
COMMENT ON FUNCTION crm.agents_check_new() IS
    'Trigger: new agents start at active_leads = 0 with an empty routing profile. '
    'Errors: PT409 agents_active_leads_derived, PT409 agents_profile_derived.';

CREATE OR REPLACE TRIGGER agents_20_check_new BEFORE INSERT ON crm.agents
    FOR EACH ROW EXECUTE FUNCTION crm.agents_check_new();

-- The routing index (migration 0024): each agent's profile row and own ranking points, kept on the agent row, and the
-- count of each profile's eligible agents, so crm.rank_agents reads candidates from agents_routing_idx instead of
-- scoring every agent.

-- crm.agent_points(performance, active, max, weights): an agent's own ranking points, the same for every lead:
-- performance_score/100 x performance, and the free share of its capacity x workload (0 without capacity).
CREATE OR REPLACE FUNCTION crm.agent_points(p_performance numeric, p_active_leads integer, p_max_active_leads integer,
                                            p_weights jsonb, OUT performance_points float8, OUT workload_points float8)
LANGUAGE plpgsql
IMMUTABLE
SET search_path = ''
AS $$
BEGIN
    -- (plpgsql: a SQL function with SET search_path is planned again on every call, and this runs on every assignment)
    performance_points := p_performance::float8 / 100 * (p_weights ->> 'performance')::float8;
    workload_points := CASE WHEN p_max_active_leads > 0
                            THEN (1 - p_active_leads::float8 / p_max_active_leads) * (p_weights ->> 'workload')::float8
                            ELSE 0 END;
END
$$;
COMMENT ON FUNCTION crm.agent_points(numeric, integer, integer, jsonb) IS
    'An agent''s own ranking points under the given assignment_weights: performance_score/100 x performance and the free '
    'share of its capacity x workload. Their sum is crm.agents.base_points.';

-- crm.routing_profile_of(types, areas, languages): the id of that profile's crm.routing_profiles row, added when new
-- (a concurrent transaction adding the same profile is waited for, then its row is read).
CREATE OR REPLACE FUNCTION crm.routing_profile_of(p_property_types crm.property_type[], p_area_codes text[],
                                                  p_languages text[])
RETURNS integer
LANGUAGE plpgsql
SET search_path = ''
AS $$
DECLARE
    v_id integer;
BEGIN
    LOOP
        SELECT p.profile_id INTO v_id FROM crm.routing_profiles AS p
         WHERE p.property_types = p_property_types AND p.area_codes = p_area_codes AND p.languages = p_languages;
        EXIT WHEN v_id IS NOT NULL;
        INSERT INTO crm.routing_profiles (property_types, area_codes, languages)
        VALUES (p_property_types, p_area_codes, p_languages)
        ON CONFLICT DO NOTHING
        RETURNING profile_id INTO v_id;
        EXIT WHEN v_id IS NOT NULL;
    END LOOP;
    RETURN v_id;
END
$$;
COMMENT ON FUNCTION crm.routing_profile_of(crm.property_type[], text[], text[]) IS
    'The crm.routing_profiles row of a routing profile (property types, areas, languages), inserted when new.';

-- BEFORE INSERT OR UPDATE ON crm.agents: the derived routing columns follow the row: routing_profile_id the profile of
-- its arrays, base_points crm.agent_points under the current assignment_weights. A hand-written value of either is
-- replaced by the derived one.
CREATE OR REPLACE FUNCTION crm.agents_routing()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = ''
AS $$
DECLARE
    v_points record;
BEGIN
    IF TG_OP = 'INSERT' OR NEW.routing_profile_id IS DISTINCT FROM OLD.routing_profile_id
       OR (NEW.property_types, NEW.area_codes, NEW.languages) IS DISTINCT FROM (OLD.property_types, OLD.area_codes, OLD.languages)
    THEN
        NEW.routing_profile_id := crm.routing_profile_of(NEW.property_types, NEW.area_codes, NEW.languages);
    END IF;
    v_points := crm.agent_points(NEW.performance_score, NEW.active_leads, NEW.max_active_leads,
                                 crm.setting('assignment_weights'));
    NEW.base_points := v_points.performance_points + v_points.workload_points;
    RETURN NEW;
END
$$;
COMMENT ON FUNCTION crm.agents_routing() IS
    'Trigger: keeps crm.agents.routing_profile_id (the profile of the agent''s arrays) and base_points (crm.agent_points '
    'under the assignment_weights setting) derived.';

CREATE OR REPLACE TRIGGER agents_30_routing
    BEFORE INSERT OR UPDATE OF property_types, area_codes, languages, performance_score, active_leads, max_active_leads,
                               routing_profile_id, base_points ON crm.agents
    FOR EACH ROW EXECUTE FUNCTION crm.agents_routing();

-- AFTER INSERT, DELETE, or UPDATE: when the change moves an agent's eligibility (active, role agent, under
-- capacity) or profile, moves the eligible_agents counts of crm.routing_profiles. The test is the function's first
-- step, not the trigger's WHEN clause: every assignment updates its agent's counter, and PostgreSQL reads and
-- prepares a WHEN clause again for every statement that fires the trigger, which cost more than calling the
-- function (70,000 instructions a capture, docs/benchmarks.md).
CREATE OR REPLACE FUNCTION crm.agents_count_eligible()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = ''
AS $$
DECLARE
    v_was boolean := TG_OP <> 'INSERT' AND OLD.is_active AND OLD.role = 'agent'
                     AND OLD.active_leads < OLD.max_active_leads;
    v_is  boolean := TG_OP <> 'DELETE' AND NEW.is_active AND NEW.role = 'agent'
                     AND NEW.active_leads < NEW.max_active_leads;
BEGIN
    IF TG_OP = 'UPDATE' AND v_was = v_is AND OLD.routing_profile_id IS NOT DISTINCT FROM NEW.routing_profile_id THEN
        RETURN NULL;   -- neither its eligibility nor its profile moved
    END IF;
    IF v_was THEN
        UPDATE crm.routing_profiles SET eligible_agents = eligible_agents - 1 WHERE profile_id = OLD.routing_profile_id;
    END IF;
    IF v_is THEN
        UPDATE crm.routing_profiles SET eligible_agents = eligible_agents + 1 WHERE profile_id = NEW.routing_profile_id;
    END IF;
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION crm.agents_count_eligible() IS
    'Trigger: keeps crm.routing_profiles.eligible_agents equal to the number of active agents of role agent under '
    'capacity with each profile (nothing when an update moves neither eligibility nor profile).';

CREATE OR REPLACE TRIGGER agents_40_count_eligible_new AFTER INSERT OR DELETE ON crm.agents
    FOR EACH ROW EXECUTE FUNCTION crm.agents_count_eligible();
CREATE OR REPLACE TRIGGER agents_40_count_eligible AFTER UPDATE ON crm.agents
    FOR EACH ROW EXECUTE FUNCTION crm.agents_count_eligible();

-- crm.rebuild_routing(): derives every agent's routing columns again and recounts every profile, for the
-- assignment_weights trigger below and after an import that ran with triggers off (db/scale/generate.sql).
-- Returns the number of agents whose columns changed.
CREATE OR REPLACE FUNCTION crm.rebuild_routing()
RETURNS integer
LANGUAGE plpgsql
SET search_path = ''
AS $$
DECLARE
    v_weights jsonb := crm.setting('assignment_weights');
    v_changed integer;
BEGIN
    UPDATE crm.agents AS g
       SET routing_profile_id = d.profile_id, base_points = d.base_points
      FROM (SELECT s.agent_id, crm.routing_profile_of(s.property_types, s.area_codes, s.languages) AS profile_id,
                   p.performance_points + p.workload_points AS base_points
              FROM crm.agents AS s
             CROSS JOIN LATERAL crm.agent_points(s.performance_score, s.active_leads, s.max_active_leads,
                                                 v_weights) AS p) AS d
     WHERE d.agent_id = g.agent_id
       AND (g.base_points IS DISTINCT FROM d.base_points OR g.routing_profile_id IS DISTINCT FROM d.profile_id);
    GET DIAGNOSTICS v_changed = ROW_COUNT;
    UPDATE crm.routing_profiles AS r
       SET eligible_agents = c.n
      FROM (SELECT p.profile_id, count(g.agent_id)::integer AS n
              FROM crm.routing_profiles AS p
              LEFT JOIN crm.agents AS g ON g.routing_profile_id = p.profile_id AND g.is_active AND g.role = 'agent'
                                       AND g.active_leads < g.max_active_leads
             GROUP BY p.profile_id) AS c
     WHERE c.profile_id = r.profile_id AND r.eligible_agents <> c.n;
    RETURN v_changed;
END
$$;
COMMENT ON FUNCTION crm.rebuild_routing() IS
    'Derives every agent''s routing_profile_id and base_points again and recounts crm.routing_profiles.eligible_agents; '
    'returns the number of agents changed. Run by the assignment_weights trigger, and after an import with triggers off.';

-- AFTER UPDATE OF the assignment_weights setting: every agent's base points under the new weights, in the same
-- transaction, so the next ranking reads them.
CREATE OR REPLACE FUNCTION crm.settings_rebase_agents()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = ''
AS $$
BEGIN
    PERFORM crm.rebuild_routing();
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION crm.settings_rebase_agents() IS
    'Trigger: a change of the assignment_weights setting recomputes every agent''s base_points (crm.rebuild_routing).';

CREATE OR REPLACE TRIGGER settings_50_rebase_agents AFTER UPDATE ON crm.settings
    FOR EACH ROW WHEN (NEW.setting_key = 'assignment_weights' AND NEW.value IS DISTINCT FROM OLD.value)
    EXECUTE FUNCTION crm.settings_rebase_agents();
