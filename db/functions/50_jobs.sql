-- The background jobs (schema jobs, for the job login thinkrealty_jobs and the owner only): the sweeps in one
-- transaction, their dry run, and the analytics snapshot refresh.

-- jobs.run_sweeps(now, force): every sweep in one transaction, under a transaction advisory lock so that of several
-- app processes (or cron and the app) only one sweeps at a time; the others get {"skipped": true} at once. A clock
-- more than sweep_clock_tolerance ahead of the real one is refused unless p_force: a sweep in the future writes
-- future escalations, decays and reassignments into the live data (jobs.rehearse_sweeps shows them instead).
-- Errors: PT422 sweep_clock_ahead.
DROP FUNCTION IF EXISTS api.run_sweeps(timestamptz);
CREATE OR REPLACE FUNCTION jobs.run_sweeps(p_now timestamptz DEFAULT NULL, p_force boolean DEFAULT false)
RETURNS jsonb
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = ''
AS $$
DECLARE
    v_now     timestamptz := coalesce(p_now, pg_catalog.now());
    v_started timestamptz := pg_catalog.clock_timestamp();
    v_result  jsonb;
BEGIN
    IF v_now > pg_catalog.now() + crm.setting_interval('sweep_clock_tolerance') AND NOT p_force THEN
        RAISE EXCEPTION 'a sweep at % would write the future into the live data', v_now
            USING ERRCODE = 'PT422', CONSTRAINT = 'sweep_clock_ahead',
                  HINT = 'Rehearse it (jobs.rehearse_sweeps, or crmctl sweep --now ...), or pass force.';
    END IF;
    IF NOT pg_catalog.pg_try_advisory_xact_lock(7312046502) THEN
        RETURN pg_catalog.jsonb_build_object('skipped', true, 'reason', 'another sweep is running');
    END IF;
    PERFORM crm.set_actor('sweep');
    v_result := pg_catalog.jsonb_build_object(
        'skipped', false,
        'now', v_now,
        'escalated', crm.sweep_escalations(v_now),
        'reassigned_no_response', crm.sweep_unresponsive(v_now),
        'decayed', crm.sweep_decay(v_now),
        'queue_drained', crm.drain_assignment_queue(1000, v_now),
        'rebalanced', crm.sweep_workload_balance(v_now),
        'metrics_rows', crm.refresh_performance_metrics(v_now),
        'events_pruned', crm.prune_events(v_now),
        'dashboard_changes_pruned', crm.prune_dashboard_changes(v_now));
    RETURN v_result || pg_catalog.jsonb_build_object(
        'duration_ms', round(extract(epoch FROM pg_catalog.clock_timestamp() - v_started) * 1000, 1));
END
$$;
COMMENT ON FUNCTION jobs.run_sweeps(timestamptz, boolean) IS
    'Runs every time-based rule at p_now (default now): escalate 30-day-overdue follow-ups, reassign unresponsive '
    'leads, 7-day no-response decay, drain the assignment queue, balance workload, refresh performance metrics, '
    'prune events past event_retention and the dashboard change log past ten minutes. '
    'Idempotent; one at a time (advisory lock; a concurrent call returns {"skipped": true}). Errors: PT422 '
    'sweep_clock_ahead (p_now beyond sweep_clock_tolerance without p_force). SECURITY DEFINER: writes crm for the '
    'job login, which has no rights of its own.';

-- jobs.rehearse_sweeps(now): what a sweep at p_now would do, without doing it: the sweeps run in a subtransaction
-- that is then rolled back, so the answer counts real work and nothing of it stays (no rows, no notifications).
CREATE OR REPLACE FUNCTION jobs.rehearse_sweeps(p_now timestamptz)
RETURNS jsonb
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = ''
AS $$
DECLARE
    v_result jsonb;
BEGIN
    BEGIN
        v_result := jobs.run_sweeps(p_now, true);
        RAISE EXCEPTION 'rehearsal: roll back' USING ERRCODE = 'TR001';
    EXCEPTION WHEN SQLSTATE 'TR001' THEN
        NULL;  -- every write of the sweeps is undone with the subtransaction; v_result keeps the counts
    END;
    RETURN v_result || '{"dry_run": true}'::jsonb;
END
$$;
COMMENT ON FUNCTION jobs.rehearse_sweeps(timestamptz) IS
    'A dry run of jobs.run_sweeps at p_now (any time, future included): the counts it would produce, with every write '
    'rolled back. SECURITY DEFINER: runs the sweeps as jobs.run_sweeps does.';

-- refresh the snapshot when it is due (or at once with p_force): the sweep calls it after jobs.run_sweeps
CREATE OR REPLACE FUNCTION crm.refresh_analytics_snapshot(p_force boolean DEFAULT false)
RETURNS jsonb
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = ''
AS $$
DECLARE
    v_started timestamptz := pg_catalog.clock_timestamp();
    v_last    timestamptz;
    v_rows    bigint;
    v_ms      numeric;
BEGIN
    SELECT s.refreshed_at INTO v_last FROM crm.analytics_snapshot_log AS s WHERE s.snapshot = 'lead_facts';
    IF NOT p_force AND v_last > now() - crm.setting_interval('analytics_refresh_interval') THEN
        RETURN pg_catalog.jsonb_build_object('refreshed', false, 'reason', 'not due', 'refreshed_at', v_last);
    END IF;
    IF NOT pg_catalog.pg_try_advisory_xact_lock(7312046503) THEN
        RETURN pg_catalog.jsonb_build_object('refreshed', false, 'reason', 'another refresh is running',
                                             'refreshed_at', v_last);
    END IF;
    REFRESH MATERIALIZED VIEW CONCURRENTLY reporting.lead_facts_snapshot;
    ANALYZE reporting.lead_facts_snapshot;  -- the reports' plans need its statistics (a refresh keeps the old ones)
    SELECT pg_catalog.count(*) INTO v_rows FROM reporting.lead_facts_snapshot;
    v_ms := round(extract(epoch FROM pg_catalog.clock_timestamp() - v_started) * 1000, 1);
    UPDATE crm.analytics_snapshot_log
       SET refreshed_at = v_started, duration_ms = v_ms, row_count = v_rows
     WHERE snapshot = 'lead_facts';
    RETURN pg_catalog.jsonb_build_object('refreshed', true, 'refreshed_at', v_started, 'duration_ms', v_ms,
                                         'rows', v_rows);
END
$$;
COMMENT ON FUNCTION crm.refresh_analytics_snapshot(boolean) IS
    'Refreshes reporting.lead_facts_snapshot (concurrently: reports keep reading the old one meanwhile) when it is '
    'older than analytics_refresh_interval, or at once with p_force; one refresh at a time (advisory lock). '
    'SECURITY DEFINER: only the owner may refresh a materialized view.';

DROP FUNCTION IF EXISTS api.refresh_analytics(boolean);
CREATE OR REPLACE FUNCTION jobs.refresh_analytics(p_force boolean DEFAULT false)
RETURNS jsonb
LANGUAGE sql
SECURITY DEFINER
SET search_path = ''
AS $$
    SELECT crm.refresh_analytics_snapshot(p_force)
$$;
COMMENT ON FUNCTION jobs.refresh_analytics(boolean) IS
    'Refreshes the analytics snapshot behind the Task 4 reports when analytics_refresh_interval has passed (or at once '
    'with p_force). The sweeper calls it after jobs.run_sweeps, in its own transaction, so the sweeps'' row locks are '
    'not held while the snapshot is rebuilt. SECURITY DEFINER: only the owner may refresh a materialized view.';
