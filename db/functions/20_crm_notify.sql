-- Change notifications: whatever changes an agent's dashboard sends pg_notify('dashboard_invalidation', agent_id),
-- so the app's listener drops that agent's cached dashboards, whether the change came through the API or psql.
-- NOTIFY is transactional (delivered at commit, not at all on rollback) and duplicates within a transaction are
-- folded into one.

CREATE OR REPLACE FUNCTION crm.notify_dashboard(p_agent_id uuid)
RETURNS void
LANGUAGE plpgsql
SET search_path = ''
AS $$
BEGIN
    IF p_agent_id IS NOT NULL THEN
        PERFORM pg_catalog.pg_notify('dashboard_invalidation', p_agent_id::text);
    END IF;
END
$$;
COMMENT ON FUNCTION crm.notify_dashboard(uuid) IS 'Tells listeners (the API''s cache) that this agent''s dashboard changed.';

-- AFTER INSERT OR UPDATE OR DELETE on tables that carry an agent_id (assignments, follow-ups).
CREATE OR REPLACE FUNCTION crm.notify_agent_row()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = ''
AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        PERFORM crm.notify_dashboard(OLD.agent_id);
    END IF;
    IF TG_OP <> 'DELETE' AND (TG_OP = 'INSERT' OR NEW.agent_id IS DISTINCT FROM OLD.agent_id) THEN
        PERFORM crm.notify_dashboard(NEW.agent_id);
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
