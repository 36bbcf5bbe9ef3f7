-- Lead pipeline rules: initial status, allowed transitions (crm.lead_status_transitions),
-- closed_at bookkeeping, the status history and the audit trail.

-- BEFORE INSERT OR UPDATE OF status ON crm.leads.
-- Errors: PT422 lead_initial_status (a lead must start as new),
--         PT409 lead_status_transition (the move is not in crm.lead_status_transitions),
--         PT409 lead_unassigned (a lead without an open assignment does not move),
--         PT409 leads_score_frozen (the score of a converted or lost lead does not change).
CREATE OR REPLACE FUNCTION crm.leads_check_status()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = ''
AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        IF NEW.status <> 'new' THEN
            RAISE EXCEPTION 'a lead starts as new, not %', NEW.status
                USING ERRCODE = 'PT422', CONSTRAINT = 'lead_initial_status',
                      DETAIL = pg_catalog.json_build_object('status', NEW.status)::text,
                      HINT = 'Insert the lead as new, then move it along the pipeline.';
        END IF;
        -- the creator, once: the history, the audit and lead.captured read it from the row (migration 0034)
        NEW.created_by := crm.recorded_actor(NEW.created_by);
        RETURN NEW;
    END IF;

    IF NEW.score IS DISTINCT FROM OLD.score AND crm.is_closed(OLD.status) THEN
        RAISE EXCEPTION 'lead % is % and its score is frozen', OLD.lead_id, OLD.status
            USING ERRCODE = 'PT409', CONSTRAINT = 'leads_score_frozen',
                  DETAIL = pg_catalog.json_build_object('lead_id', OLD.lead_id, 'status', OLD.status)::text;
    END IF;
    IF NEW.status IS DISTINCT FROM OLD.status THEN
        IF NOT EXISTS (SELECT 1 FROM crm.lead_assignments AS a
                        WHERE a.lead_id = OLD.lead_id AND a.released_at IS NULL) THEN
            RAISE EXCEPTION 'lead % has no agent yet; its status cannot move', OLD.lead_id
                USING ERRCODE = 'PT409', CONSTRAINT = 'lead_unassigned',
                      DETAIL = pg_catalog.json_build_object('lead_id', OLD.lead_id)::text,
                      HINT = 'Assign it first (it waits in the queue for capacity).';
        END IF;
        IF NOT EXISTS (
            SELECT 1 FROM crm.lead_status_transitions AS t
            WHERE t.from_status = OLD.status AND t.to_status = NEW.status
        ) THEN
            RAISE EXCEPTION 'cannot move lead from % to %', OLD.status, NEW.status
                USING ERRCODE = 'PT409', CONSTRAINT = 'lead_status_transition',
                      DETAIL = pg_catalog.json_build_object('lead_id', OLD.lead_id, 'from', OLD.status, 'to', NEW.status)::text,
                      HINT = 'Allowed moves are listed in crm.lead_status_transitions.';
        END IF;
        IF crm.is_closed(NEW.status) THEN
            NEW.closed_at := coalesce(NEW.closed_at, crm.clock());
            NEW.queued_at := NULL;
        END IF;
    END IF;
    RETURN NEW;
END
$$;
COMMENT ON FUNCTION crm.leads_check_status() IS
    'Trigger: new leads start as new, stamped with their creator (created_by, crm.recorded_actor); status changes '
    'must be listed in crm.lead_status_transitions and need an agent; a closed lead''s score is frozen. Errors: PT422 '
    'lead_initial_status, PT409 lead_status_transition, PT409 lead_unassigned, PT409 leads_score_frozen. '
    'SECURITY DEFINER: keeps derived rows no caller may write, also when a caller''s own UPDATE (under row-level security) fires it.';

DROP TRIGGER IF EXISTS leads_20_check_status ON crm.leads;
CREATE TRIGGER leads_20_check_status BEFORE INSERT OR UPDATE OF status, score ON crm.leads
    FOR EACH ROW EXECUTE FUNCTION crm.leads_check_status();

-- AFTER INSERT OR UPDATE OF status ON crm.leads: one history row per status entered.
CREATE OR REPLACE FUNCTION crm.leads_record_status()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = ''
AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND NEW.status IS NOT DISTINCT FROM OLD.status THEN
        RETURN NULL;
    END IF;
    INSERT INTO crm.lead_conversion_history (lead_id, from_status, to_status, agent_id, changed_at, changed_by, note)
    SELECT NEW.lead_id,
           CASE WHEN TG_OP = 'UPDATE' THEN OLD.status END,
           NEW.status,
           (SELECT a.agent_id FROM crm.lead_assignments AS a
             WHERE a.lead_id = NEW.lead_id AND a.released_at IS NULL),
           -- when the status was entered: a new lead's creation, a closed lead's closing, else the clock of the change
           CASE WHEN TG_OP = 'INSERT' THEN NEW.created_at
                WHEN crm.is_closed(NEW.status) THEN NEW.closed_at
                ELSE crm.clock() END,
           CASE WHEN TG_OP = 'INSERT' THEN NEW.created_by ELSE crm.actor() END,   -- a new lead's: its creator
           CASE WHEN NEW.status = 'lost' THEN NEW.lost_reason END;
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION crm.leads_record_status() IS 'Trigger: writes crm.lead_conversion_history for every status a lead enters, '
    'stamped with the lead''s created_at (new), its closed_at (converted, lost) or crm.clock() (the stages between). '
    'SECURITY DEFINER: keeps derived rows no caller may write, also when a caller''s own UPDATE (under row-level security) fires it.';

CREATE OR REPLACE TRIGGER leads_30_record_status AFTER INSERT OR UPDATE OF status ON crm.leads
    FOR EACH ROW EXECUTE FUNCTION crm.leads_record_status();

-- AFTER UPDATE OF status ON crm.leads, into converted or lost: the lead's open follow-ups are cancelled, whoever
-- closed it and however (api.update_lead, a direct UPDATE in psql).
CREATE OR REPLACE FUNCTION crm.leads_cancel_follow_ups()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = ''
AS $$
BEGIN
    UPDATE crm.follow_up_tasks
       SET status = 'cancelled', completed_at = NEW.closed_at,
           notes = coalesce(notes || ' ', '') || '(lead ' || NEW.status || ')'
     WHERE lead_id = NEW.lead_id AND status = 'open';
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION crm.leads_cancel_follow_ups() IS
    'Trigger: a lead that closes (converted or lost) has its open follow-ups cancelled, completed when the lead closed. '
    'SECURITY DEFINER: keeps '
    'derived rows no caller may write, also when a caller''s own UPDATE (under row-level security) fires it.';

DROP TRIGGER IF EXISTS leads_35_cancel_follow_ups ON crm.leads;
CREATE TRIGGER leads_35_cancel_follow_ups AFTER UPDATE OF status ON crm.leads
    FOR EACH ROW WHEN (NOT crm.is_closed(OLD.status) AND crm.is_closed(NEW.status))
    EXECUTE FUNCTION crm.leads_cancel_follow_ups();

-- AFTER INSERT OR UPDATE ON crm.leads: the audit row, with only the columns that changed.
CREATE OR REPLACE FUNCTION crm.leads_audit()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = ''
AS $$
DECLARE
    v_old jsonb;
    v_new jsonb;
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO crm.lead_audit (lead_id, operation, changed_by, old_values, new_values)
        VALUES (NEW.lead_id, TG_OP, NEW.created_by, NULL, pg_catalog.to_jsonb(NEW));   -- the creator, as stamped
        RETURN NULL;
    END IF;

    SELECT pg_catalog.jsonb_object_agg(n.key, o.value), pg_catalog.jsonb_object_agg(n.key, n.value)
      INTO v_old, v_new
      FROM pg_catalog.jsonb_each(pg_catalog.to_jsonb(NEW)) AS n
      JOIN pg_catalog.jsonb_each(pg_catalog.to_jsonb(OLD)) AS o USING (key)
     WHERE n.value IS DISTINCT FROM o.value AND n.key NOT IN ('updated_at', 'version');

    IF v_new IS NOT NULL THEN
        INSERT INTO crm.lead_audit (lead_id, operation, changed_by, old_values, new_values)
        VALUES (NEW.lead_id, TG_OP, crm.actor(), v_old, v_new);
    END IF;
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION crm.leads_audit() IS 'Trigger: one crm.lead_audit row per change of a lead, holding the changed columns before and after. '
    'SECURITY DEFINER: keeps derived rows no caller may write, also when a caller''s own UPDATE (under row-level security) fires it.';

CREATE OR REPLACE TRIGGER leads_40_audit AFTER INSERT OR UPDATE ON crm.leads
    FOR EACH ROW EXECUTE FUNCTION crm.leads_audit();

-- crm.lock_lead(lead): the lead row, locked FOR UPDATE for the rest of the transaction, so that changes to one
-- lead (update, reassignment, assignment on request) run one after the other on its latest state.
-- Errors: PT404 lead_not_found.
CREATE OR REPLACE FUNCTION crm.lock_lead(p_lead_id uuid)
RETURNS crm.leads
LANGUAGE plpgsql
SET search_path = ''
AS $$
DECLARE
    v_lead crm.leads;
BEGIN
    SELECT * INTO v_lead FROM crm.leads AS l WHERE l.lead_id = p_lead_id FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'lead % does not exist', p_lead_id USING ERRCODE = 'PT404', CONSTRAINT = 'lead_not_found',
            DETAIL = pg_catalog.json_build_object('lead_id', p_lead_id)::text;
    END IF;
    RETURN v_lead;
END
$$;
COMMENT ON FUNCTION crm.lock_lead(uuid) IS
    'Locks a lead row FOR UPDATE and returns it. Errors: PT404 lead_not_found.';
