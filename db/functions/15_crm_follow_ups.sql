-- Follow-up task bookkeeping: the slot end, completion time, and closed tasks staying closed.
-- The no-overlap rule itself is the exclusion constraint follow_up_tasks_no_overlap (23P01).

-- BEFORE INSERT OR UPDATE ON crm.follow_up_tasks.
-- Errors: PT409 follow_up_task_closed (a done/cancelled task cannot be reopened or moved).
CREATE OR REPLACE FUNCTION crm.follow_up_tasks_prepare()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = ''
AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        NEW.created_by := crm.recorded_actor(NEW.created_by);
        IF NEW.ends_at IS NULL THEN
            NEW.ends_at := NEW.due_at + crm.setting_interval('follow_up_default_duration');
        END IF;
    ELSE
        IF OLD.status <> 'open' AND (NEW.status <> OLD.status OR NEW.due_at <> OLD.due_at OR NEW.agent_id <> OLD.agent_id) THEN
            RAISE EXCEPTION 'follow-up % is % and cannot be changed', OLD.task_id, OLD.status
                USING ERRCODE = 'PT409', CONSTRAINT = 'follow_up_task_closed',
                      DETAIL = pg_catalog.json_build_object('task_id', OLD.task_id, 'status', OLD.status)::text;
        END IF;
        IF NEW.due_at <> OLD.due_at AND NEW.ends_at = OLD.ends_at THEN
            NEW.ends_at := NEW.due_at + (OLD.ends_at - OLD.due_at);   -- moving a slot keeps its length
        END IF;
    END IF;
    IF NEW.status <> 'open' THEN
        NEW.completed_at := coalesce(NEW.completed_at, crm.clock());
    END IF;
    RETURN NEW;
END
$$;
COMMENT ON FUNCTION crm.follow_up_tasks_prepare() IS
    'Trigger: fills ends_at from follow_up_default_duration, stamps completed_at, keeps a moved slot''s length, '
    'refuses changes to closed tasks. Errors: PT409 follow_up_task_closed.';

CREATE OR REPLACE TRIGGER follow_up_tasks_20_prepare BEFORE INSERT OR UPDATE ON crm.follow_up_tasks
    FOR EACH ROW EXECUTE FUNCTION crm.follow_up_tasks_prepare();

-- crm.follow_up_priority(score, due, now): a follow-up's priority as an agent should see it, derived when read rather
-- than frozen at booking: the priority of the SLA class of the lead's current score (crm.sla_class: high from 80,
-- medium from 50, else low, as shipped), one level higher once the follow-up is overdue by more than the setting
-- follow_up_overdue_raise (1 day). The dashboard orders pending tasks by it, then by due time.
CREATE OR REPLACE FUNCTION crm.follow_up_priority(p_score integer, p_due_at timestamptz, p_now timestamptz)
RETURNS crm.task_priority
LANGUAGE plpgsql
STABLE
SET search_path = ''
AS $$
DECLARE
    v_priority crm.task_priority := coalesce((crm.sla_class(p_score) ->> 'priority')::crm.task_priority, 'low');
BEGIN
    IF p_now - p_due_at > crm.setting_interval('follow_up_overdue_raise') THEN
        RETURN CASE v_priority WHEN 'low' THEN 'medium' ELSE 'high' END::crm.task_priority;
    END IF;
    RETURN v_priority;
END
$$;
COMMENT ON FUNCTION crm.follow_up_priority(integer, timestamptz, timestamptz) IS
    'A follow-up''s priority now: the SLA class of the lead''s current score (crm.sla_class), one level higher when '
    'overdue by more than follow_up_overdue_raise. The stored follow_up_tasks.priority is the one it was booked with.';
