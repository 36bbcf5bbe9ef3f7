-- The workload counter (crm.agents.active_leads) and the assignment rules.
--
-- active_leads = number of open (not converted / lost) leads whose open assignment row is the agent.
-- It moves only here: +1 when an open assignment of an open lead is inserted, -1 when that assignment
-- is released or when its lead reaches a terminal status. The UPDATE of the agent row takes its row
-- lock, so concurrent assignments to one agent serialize, and the CHECK agents_capacity
-- (active_leads <= max_active_leads <= 50) refuses the one that would pass capacity (SQLSTATE 23514).

-- BEFORE INSERT ON crm.lead_assignments.
-- Errors: PT409 agent_inactive, PT409 lead_closed (an open assignment for a converted/lost lead).
CREATE OR REPLACE FUNCTION crm.lead_assignments_check_new()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = ''
AS $$
BEGIN
    NEW.assigned_by := coalesce(nullif(NEW.assigned_by, current_user::text), crm.actor());
    IF NEW.released_at IS NULL THEN
        IF NOT EXISTS (SELECT 1 FROM crm.agents AS g WHERE g.agent_id = NEW.agent_id AND g.is_active) THEN
            RAISE EXCEPTION 'agent % is not active', NEW.agent_id
                USING ERRCODE = 'PT409', CONSTRAINT = 'agent_inactive',
                      DETAIL = pg_catalog.json_build_object('agent_id', NEW.agent_id)::text;
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
    'Trigger: an open assignment needs an active agent and an open lead. Errors: PT409 agent_inactive, PT409 lead_closed.';

CREATE OR REPLACE TRIGGER lead_assignments_10_check_new BEFORE INSERT ON crm.lead_assignments
    FOR EACH ROW EXECUTE FUNCTION crm.lead_assignments_check_new();

-- BEFORE UPDATE ON crm.lead_assignments: a row may only be released (once) and stamped with
-- its first activity. Errors: PT409 lead_assignments_immutable.
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
    RETURN NEW;
END
$$;
COMMENT ON FUNCTION crm.agents_guard_counter() IS
    'Trigger: refuses direct writes of the derived columns of crm.agents (active_leads; the routing profile '
    'property_types, area_codes, languages). Errors: PT409 agents_active_leads_derived, PT409 agents_profile_derived.';

CREATE OR REPLACE TRIGGER agents_20_guard_counter
    BEFORE UPDATE OF active_leads, property_types, area_codes, languages ON crm.agents
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
    RETURN NEW;
END
$$;
COMMENT ON FUNCTION crm.agents_check_new() IS
    'Trigger: new agents start at active_leads = 0 with an empty routing profile. '
    'Errors: PT409 agents_active_leads_derived, PT409 agents_profile_derived.';

CREATE OR REPLACE TRIGGER agents_20_check_new BEFORE INSERT ON crm.agents
    FOR EACH ROW EXECUTE FUNCTION crm.agents_check_new();
