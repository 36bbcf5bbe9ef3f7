-- Change notifications: whatever changes an agent's dashboard records the agent in crm.dashboard_changes, so the
-- app's cache drops that agent's cached dashboards, whether the change came through the API or psql. The record is
-- transactional (seen at commit, not at all on rollback) and one per transaction and agent.
-- Not pg_notify: a transaction that has notified takes one database-wide lock at commit and holds it until its
-- commit record is flushed, so every capture committed alone, one fsync after the other (migration 0031,
-- docs/benchmarks.md "Why 16 connections capture less than 4").

-- crm.notify_dashboard(agent): records the agent's change; true when it is the agent's first in this transaction (a
-- row written), false when already recorded or no agent. (A value, so that triggers assign it: see crm.authorize.)
DROP FUNCTION IF EXISTS crm.notify_dashboard(uuid);
CREATE FUNCTION crm.notify_dashboard(p_agent_id uuid)
RETURNS boolean
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = ''
AS $$
BEGIN
    IF p_agent_id IS NULL THEN
        RETURN false;
    END IF;
    INSERT INTO crm.dashboard_changes (agent_id) VALUES (p_agent_id) ON CONFLICT DO NOTHING;
    RETURN FOUND;
END
$$;
COMMENT ON FUNCTION crm.notify_dashboard(uuid) IS
    'Records that this agent''s dashboard changed in this transaction (crm.dashboard_changes; the API''s cache reads '
    'it through api.dashboard_changes); true when this is the agent''s first change in the transaction. SECURITY '
    'DEFINER: whoever fires the trigger, nobody else may write the log.';

-- crm.prune_dashboard_changes(now): deletes the change log's rows older than ten minutes (the API's processes read it
-- every fraction of a second) and records the newest transaction id pruned, so a reader that had not looked since
-- knows it missed rows. Returns how many rows went.
CREATE OR REPLACE FUNCTION crm.prune_dashboard_changes(p_now timestamptz)
RETURNS integer
LANGUAGE plpgsql
SET search_path = ''
AS $$
DECLARE
    v_count integer;
    v_up_to xid8;
BEGIN
    WITH gone AS (
        DELETE FROM crm.dashboard_changes AS c WHERE c.changed_at < p_now - interval '10 minutes' RETURNING c.xid)
    SELECT count(*), max(g.xid) INTO v_count, v_up_to FROM gone AS g;
    IF v_up_to IS NOT NULL THEN
        UPDATE crm.dashboard_changes_pruned AS p SET up_to = greatest(p.up_to, v_up_to);
    END IF;
    RETURN v_count;
END
$$;
COMMENT ON FUNCTION crm.prune_dashboard_changes(timestamptz) IS
    'Sweep: deletes crm.dashboard_changes rows older than ten minutes and moves crm.dashboard_changes_pruned.up_to '
    'to the newest transaction id deleted. Returns the number of rows deleted.';

-- AFTER INSERT OR UPDATE OR DELETE on tables that carry an agent_id (assignments, follow-ups).
CREATE OR REPLACE FUNCTION crm.notify_agent_row()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = ''
AS $$
DECLARE
    v_new boolean;   -- assigned, not PERFORMed: an expression costs less than a statement
BEGIN
    IF TG_OP <> 'INSERT' THEN
        v_new := crm.notify_dashboard(OLD.agent_id);
    END IF;
    IF TG_OP <> 'DELETE' AND (TG_OP = 'INSERT' OR NEW.agent_id IS DISTINCT FROM OLD.agent_id) THEN
        v_new := crm.notify_dashboard(NEW.agent_id);
    END IF;
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION crm.notify_agent_row() IS 'Trigger: notifies the dashboard of the row''s agent (old and new).';

-- AFTER UPDATE on crm.leads: the lead's current agent.
CREATE OR REPLACE FUNCTION crm.notify_lead_agent()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = ''
AS $$
BEGIN
    PERFORM crm.notify_dashboard(a.agent_id)
       FROM crm.lead_assignments AS a
      WHERE a.lead_id = NEW.lead_id AND a.released_at IS NULL;
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION crm.notify_lead_agent() IS 'Trigger: notifies the dashboard of the lead''s current agent. '
    'SECURITY DEFINER: keeps derived rows no caller may write, also when a caller''s own UPDATE (under row-level security) fires it.';

CREATE OR REPLACE TRIGGER lead_assignments_70_notify AFTER INSERT OR UPDATE OR DELETE ON crm.lead_assignments
    FOR EACH ROW EXECUTE FUNCTION crm.notify_agent_row();
CREATE OR REPLACE TRIGGER follow_up_tasks_70_notify AFTER INSERT OR UPDATE OR DELETE ON crm.follow_up_tasks
    FOR EACH ROW EXECUTE FUNCTION crm.notify_agent_row();
-- (none on crm.agents: the dashboard figures that come from the agent row, active_leads, only change with an
-- assignment or a lead's status, which notify already; a trigger there fired on every counter update)
DROP TRIGGER IF EXISTS agents_70_notify ON crm.agents;
CREATE OR REPLACE TRIGGER leads_70_notify AFTER UPDATE ON crm.leads
    FOR EACH ROW WHEN (OLD IS DISTINCT FROM NEW) EXECUTE FUNCTION crm.notify_lead_agent();
