-- Shared helpers: the actor of a change, settings lookup, updated_at and append-only triggers.

-- crm.caller_actor(role, key prefix): how a sealed caller is named as an actor, "<role>:<key prefix>". A plain
-- IMMUTABLE SQL function without SET, inlined where it is used (crm.actor, api.begin_request), as crm.is_closed is
-- (tests/db/test_migrations.py lists it among the functions allowed no pinned search_path: it names nothing but its
-- arguments and pg_catalog's ||).
CREATE OR REPLACE FUNCTION crm.caller_actor(p_role text, p_key_prefix text)
RETURNS text
LANGUAGE sql
IMMUTABLE
PARALLEL SAFE
AS $$
    SELECT p_role OPERATOR(pg_catalog.||) ':' OPERATOR(pg_catalog.||) coalesce(p_key_prefix, '-')
$$;
COMMENT ON FUNCTION crm.caller_actor(text, text) IS
    'The actor name of a sealed caller: "<role>:<key prefix>" ("-" for a key without one).';

-- crm.actor(): who is making the change, for the audit and history rows. The sealed caller of the transaction
-- ("<role>:<key prefix>", see crm.caller) when there is one; else, in a DBA's session or the jobs' login, the
-- crm.actor setting (crm.set_actor) or the login; in any other session (the API's login without a key) the login:
-- a crm.actor set there names nobody.
CREATE OR REPLACE FUNCTION crm.actor()
RETURNS text
LANGUAGE plpgsql
STABLE
SET search_path = ''
AS $$
DECLARE
    v_caller record := crm.caller();
BEGIN
    IF v_caller.role IS NOT NULL THEN
        RETURN crm.caller_actor(v_caller.role, v_caller.key_prefix);
    END IF;
    IF crm.session_is_trusted() OR session_user = 'thinkrealty_jobs' THEN
        RETURN coalesce(nullif(pg_catalog.current_setting('crm.actor', true), ''), session_user::text);
    END IF;
    RETURN session_user::text;
END
$$;
COMMENT ON FUNCTION crm.actor() IS
    'Actor of the current change: the sealed caller ("<role>:<key prefix>"); else, for a DBA''s session or the jobs'' '
    'login, the crm.actor setting or the login; else the login (an unsealed crm.actor names nobody).';

-- crm.recorded_actor(given): the actor a row records at its insert (crm.leads.created_by,
-- crm.lead_assignments.assigned_by, crm.follow_up_tasks.created_by): the one the insert named (the capture passes
-- the crm.actor() it asked once for all three; a DBA's import may name the original author), else crm.actor(). The
-- columns' default, the login (current_user), names nobody. Plain SQL without SET, inlined into the triggers that
-- stamp those columns (tests/db/test_migrations.py lists it): it names only crm.actor() and pg_catalog's operator.
CREATE OR REPLACE FUNCTION crm.recorded_actor(p_given text)
RETURNS text
LANGUAGE sql
STABLE
AS $$
    SELECT coalesce(CASE WHEN p_given OPERATOR(pg_catalog.=) CAST(CURRENT_USER AS pg_catalog.text) THEN NULL
                         ELSE p_given END,
                    crm.actor())
$$;
COMMENT ON FUNCTION crm.recorded_actor(text) IS
    'The actor an inserted row records: p_given unless it is NULL or the login (the column default), else crm.actor().';

-- crm.set_actor(actor): names the actor of the current transaction's changes where the session may (a DBA's, the
-- jobs'); blank means p_default. Under a sealed caller crm.actor() answers the caller, whatever is set here.
-- (plpgsql, not sql, here and in the other small functions a capture calls: a SQL function with SET search_path is
-- never inlined and is planned again on every call, while plpgsql keeps its plans for the session)
-- Returns the value set (a value, so that the capture assigns it: see crm.authorize).
DROP FUNCTION IF EXISTS crm.set_actor(text, text);
CREATE FUNCTION crm.set_actor(p_actor text, p_default text DEFAULT 'api')
RETURNS text
LANGUAGE plpgsql
SET search_path = ''
AS $$
BEGIN
    RETURN pg_catalog.set_config('crm.actor', coalesce(nullif(p_actor, ''), p_default), true);
END
$$;
COMMENT ON FUNCTION crm.set_actor(text, text) IS
    'Sets the crm.actor setting of the current transaction, which crm.actor() reads for DBA and jobs sessions without '
    'a sealed caller; returns the value set.';

-- crm.clock(): the business time the triggers stamp on what they derive (a status history row, a lead's closed_at,
-- the completion time of a follow-up they close). now() in every session, unless a DBA's session (crm.session_is_trusted)
-- set the crm.clock setting of its transaction with crm.set_clock: then that time, so that history replayed from psql
-- (the demo data of db/seed/) is stamped when it happened, not when it was written. The functions that take a p_now
-- use their own; record times (created_at of activities, the audit trail) stay now(). Any other login's crm.clock
-- setting is ignored, as crm.actor() ignores its crm.actor: the app's login cannot date its own changes.
CREATE OR REPLACE FUNCTION crm.clock()
RETURNS timestamptz
LANGUAGE plpgsql
STABLE
SET search_path = ''
AS $$
DECLARE
    v_clock text := pg_catalog.current_setting('crm.clock', true);
BEGIN
    IF coalesce(v_clock, '') = '' OR NOT crm.session_is_trusted() THEN
        RETURN pg_catalog.now();
    END IF;
    RETURN v_clock::timestamptz;
END
$$;
COMMENT ON FUNCTION crm.clock() IS
    'Business time for trigger-derived timestamps (status history, closed_at, completed_at of follow-ups closed by a '
    'trigger): now(), or in a DBA''s session the time set by crm.set_clock for the rest of the transaction.';

-- crm.set_clock(at): a DBA's session replays history: the triggers stamp p_at (crm.clock) on what they derive for the
-- rest of the transaction; NULL returns to now(). Only the owner may call it (EXECUTE is revoked from PUBLIC), and
-- crm.clock honours the setting only in a trusted session anyway.
CREATE OR REPLACE FUNCTION crm.set_clock(p_at timestamptz)
RETURNS void
LANGUAGE sql
SET search_path = ''
AS $$
    SELECT pg_catalog.set_config('crm.clock', coalesce(p_at::text, ''), true)
$$;
COMMENT ON FUNCTION crm.set_clock(timestamptz) IS
    'Sets the business clock of the current transaction (crm.clock) to p_at, for a DBA replaying history; NULL resets it '
    'to now(). Honoured only in trusted (owner) sessions.';

-- crm.is_closed(status): converted and lost are the closed (terminal) states. The one spelling of that rule; a plain
-- IMMUTABLE SQL function without SET, so the planner inlines it and a partial index on the same condition still
-- matches (tests/db/test_migrations.py names it among the functions allowed no pinned search_path: it names
-- nothing but its argument).
CREATE OR REPLACE FUNCTION crm.is_closed(p_status crm.lead_status)
RETURNS boolean
LANGUAGE sql
IMMUTABLE
PARALLEL SAFE
AS $$
    SELECT p_status IN ('converted', 'lost')
$$;
COMMENT ON FUNCTION crm.is_closed(crm.lead_status) IS
    'True for the closed (terminal) lead states, converted and lost; an open lead is every other state.';

-- crm.conversion_rate(won, lost): the conversion rate of every figure and report, defined once: converted /
-- (converted + lost) x 100, one decimal; NULL when nothing has closed (no rate, not 0 %).
CREATE OR REPLACE FUNCTION crm.conversion_rate(p_won numeric, p_lost numeric)
RETURNS numeric
LANGUAGE sql
IMMUTABLE
PARALLEL SAFE
AS $$
    SELECT CASE WHEN coalesce(p_won, 0) + coalesce(p_lost, 0) > 0
                THEN round(100 * coalesce(p_won, 0) / (coalesce(p_won, 0) + coalesce(p_lost, 0)), 1) END
$$;
COMMENT ON FUNCTION crm.conversion_rate(numeric, numeric) IS
    'converted / (converted + lost) x 100, rounded to one decimal; NULL when nothing has closed. The one definition '
    'of a conversion rate: the dashboard, the performance metrics and every report use it.';

-- crm.setting(key): the jsonb value of a row of crm.settings; raises PT500 setting_missing when absent.
CREATE OR REPLACE FUNCTION crm.setting(p_key text)
RETURNS jsonb
LANGUAGE plpgsql
STABLE
SET search_path = ''
AS $$
DECLARE
    v_value jsonb;
BEGIN
    SELECT s.value INTO v_value FROM crm.settings AS s WHERE s.setting_key = p_key;
    IF v_value IS NULL THEN
        RAISE EXCEPTION 'setting % is missing from crm.settings', p_key
            USING ERRCODE = 'PT500', CONSTRAINT = 'setting_missing',
                  DETAIL = pg_catalog.json_build_object('setting', p_key)::text;
    END IF;
    RETURN v_value;
END
$$;
COMMENT ON FUNCTION crm.setting(text) IS 'Value of a policy setting (crm.settings). Errors: PT500 setting_missing.';

CREATE OR REPLACE FUNCTION crm.setting_interval(p_key text)
RETURNS interval
LANGUAGE plpgsql
STABLE
SET search_path = ''
AS $$
BEGIN
    RETURN (crm.setting(p_key) #>> '{}')::interval;
END
$$;
COMMENT ON FUNCTION crm.setting_interval(text) IS 'A duration setting (e.g. duplicate_window) as an interval.';

CREATE OR REPLACE FUNCTION crm.touch_updated_at()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = ''
AS $$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END
$$;
COMMENT ON FUNCTION crm.touch_updated_at() IS 'BEFORE UPDATE trigger: stamps updated_at.';

-- crm.refuse_change(): append-only tables. Raises PT409 <table>_append_only.
CREATE OR REPLACE FUNCTION crm.refuse_change()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = ''
AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % is not allowed', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'PT409', CONSTRAINT = TG_TABLE_NAME || '_append_only',
              DETAIL = pg_catalog.json_build_object('table', TG_TABLE_NAME, 'operation', TG_OP)::text,
              HINT = 'Record a correction as a new row instead.';
END
$$;
COMMENT ON FUNCTION crm.refuse_change() IS 'BEFORE UPDATE/DELETE/TRUNCATE trigger of append-only tables. Errors: PT409 <table>_append_only.';

CREATE OR REPLACE TRIGGER agents_10_touch BEFORE UPDATE ON crm.agents
    FOR EACH ROW EXECUTE FUNCTION crm.touch_updated_at();
CREATE OR REPLACE TRIGGER leads_10_touch BEFORE UPDATE ON crm.leads
    FOR EACH ROW EXECUTE FUNCTION crm.touch_updated_at();
CREATE OR REPLACE TRIGGER properties_10_touch BEFORE UPDATE ON crm.properties
    FOR EACH ROW EXECUTE FUNCTION crm.touch_updated_at();
CREATE OR REPLACE TRIGGER follow_up_tasks_10_touch BEFORE UPDATE ON crm.follow_up_tasks
    FOR EACH ROW EXECUTE FUNCTION crm.touch_updated_at();
CREATE OR REPLACE TRIGGER lead_property_interests_10_touch BEFORE UPDATE ON crm.lead_property_interests
    FOR EACH ROW EXECUTE FUNCTION crm.touch_updated_at();
CREATE OR REPLACE TRIGGER lead_sources_10_touch BEFORE UPDATE ON crm.lead_sources
    FOR EACH ROW EXECUTE FUNCTION crm.touch_updated_at();

CREATE OR REPLACE FUNCTION crm.touch_policy_row()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = ''
AS $$
BEGIN
    NEW.updated_at := now();
    NEW.updated_by := crm.actor();
    RETURN NEW;
END
$$;
COMMENT ON FUNCTION crm.touch_policy_row() IS 'BEFORE UPDATE trigger of policy tables: stamps updated_at and updated_by.';

CREATE OR REPLACE TRIGGER settings_10_touch BEFORE UPDATE ON crm.settings
    FOR EACH ROW EXECUTE FUNCTION crm.touch_policy_row();
CREATE OR REPLACE TRIGGER lead_scoring_rules_10_touch BEFORE UPDATE ON crm.lead_scoring_rules
    FOR EACH ROW EXECUTE FUNCTION crm.touch_policy_row();

CREATE OR REPLACE TRIGGER lead_activities_05_append_only BEFORE UPDATE OR DELETE ON crm.lead_activities
    FOR EACH ROW EXECUTE FUNCTION crm.refuse_change();
CREATE OR REPLACE TRIGGER lead_activities_06_no_truncate BEFORE TRUNCATE ON crm.lead_activities
    FOR EACH STATEMENT EXECUTE FUNCTION crm.refuse_change();
CREATE OR REPLACE TRIGGER lead_conversion_history_05_append_only BEFORE UPDATE OR DELETE ON crm.lead_conversion_history
    FOR EACH ROW EXECUTE FUNCTION crm.refuse_change();
CREATE OR REPLACE TRIGGER lead_conversion_history_06_no_truncate BEFORE TRUNCATE ON crm.lead_conversion_history
    FOR EACH STATEMENT EXECUTE FUNCTION crm.refuse_change();
CREATE OR REPLACE TRIGGER lead_audit_05_append_only BEFORE UPDATE OR DELETE ON crm.lead_audit
    FOR EACH ROW EXECUTE FUNCTION crm.refuse_change();
CREATE OR REPLACE TRIGGER lead_audit_06_no_truncate BEFORE TRUNCATE ON crm.lead_audit
    FOR EACH STATEMENT EXECUTE FUNCTION crm.refuse_change();
CREATE OR REPLACE TRIGGER follow_up_escalations_05_append_only BEFORE UPDATE OR DELETE ON crm.follow_up_escalations
    FOR EACH ROW EXECUTE FUNCTION crm.refuse_change();
CREATE OR REPLACE TRIGGER lead_assignments_05_no_delete BEFORE DELETE ON crm.lead_assignments
    FOR EACH ROW EXECUTE FUNCTION crm.refuse_change();
CREATE OR REPLACE TRIGGER leads_05_no_delete BEFORE DELETE ON crm.leads
    FOR EACH ROW EXECUTE FUNCTION crm.refuse_change();
