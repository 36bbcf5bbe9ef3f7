-- api.readiness(): what GET /ready asks the database.

CREATE OR REPLACE FUNCTION api.readiness()
RETURNS jsonb
LANGUAGE sql
STABLE
SECURITY DEFINER
SET search_path = ''
AS $$
    SELECT pg_catalog.jsonb_build_object(
        'database', pg_catalog.current_database(),
        'server_version', pg_catalog.current_setting('server_version_num')::integer,
        'agents', (SELECT count(*) FROM crm.agents),
        'sources', (SELECT count(*) FROM crm.lead_sources WHERE is_active)
    )
$$;
-- SECURITY DEFINER: the app login has no privileges on crm; this reads two counts to prove the schema is there.
COMMENT ON FUNCTION api.readiness() IS
    'Readiness probe: the database name, server version and that the crm schema answers. SECURITY DEFINER because the app login cannot read crm.';

-- api.metrics(): what GET /metrics asks the database at each scrape (the queue is the database's to count).
CREATE OR REPLACE FUNCTION api.metrics()
RETURNS jsonb
LANGUAGE sql
STABLE
SECURITY DEFINER
SET search_path = ''
AS $$
    SELECT pg_catalog.jsonb_build_object(
        'queue_length', count(*),
        'oldest_queued_seconds', coalesce(extract(epoch FROM now() - min(l.queued_at)), 0)) || crm.outbox_metrics()
      FROM crm.leads AS l
     WHERE l.queued_at IS NOT NULL
$$;
COMMENT ON FUNCTION api.metrics() IS
    'For GET /metrics: the assignment queue''s length and the wait of its oldest lead (index leads_queue_idx), the '
    'outbox''s pending deliveries and the age of the oldest (crm.outbox_metrics). '
    'SECURITY DEFINER: counts every agent''s queue, which no caller''s row-level security shows whole.';

-- api.warm_up(): a capture that always rolls back, so a new backend has compiled the capture's functions and
-- prepared their statements before its first real request (a cold backend answers its first capture several times
-- slower, and a burst that opens connections then queues behind them). The API runs it on every connection its pool
-- opens (DB_POOL_WARM). Inside one subtransaction it makes the caller an integration, captures a made-up lead with
-- three suggestions, fires the deferred event triggers, and raises, which undoes everything: the lead, its
-- assignment, follow-up, events and audit rows, the agent's row lock, the advisory locks and the caller itself. What
-- stays is what a rollback leaves: a gap in the outbox's event ids, dead tuples for autovacuum, and a rolled-back
-- transaction in pg_stat_database. No parameters; the result says only whether the capture ran through (false: it
-- failed on the way, e.g. no active source, and was undone all the same), so the API can say a warm-up did nothing.
DROP FUNCTION IF EXISTS api.warm_up();
CREATE FUNCTION api.warm_up()
RETURNS boolean
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = ''
AS $$
DECLARE
    v_source text := (SELECT s.source_type FROM crm.lead_sources AS s WHERE s.is_active ORDER BY s.source_type LIMIT 1);
BEGIN
    BEGIN
        PERFORM crm.seal_caller('integration', NULL, 'warm-up');
        PERFORM api.capture_lead(pg_catalog.jsonb_build_object(
            'source_type', v_source,
            'lead_data', pg_catalog.jsonb_build_object(
                'first_name', 'Warm', 'last_name', 'Up', 'email', 'warm-up@example.com',
                'phone', '+1' || pg_catalog.lpad((pg_catalog.random() * 1e12)::bigint::text, 12, '0'),
                'nationality', 'UAE', 'language_preference', 'english', 'budget_min', 1000000, 'budget_max', 1500000,
                'property_type', 'apartment', 'preferred_areas', pg_catalog.jsonb_build_array('Dubai Marina')),
            'source_details', '{}'::jsonb), 'warm-up', NULL, NULL, NULL, 3);
        SET CONSTRAINTS ALL IMMEDIATE;   -- the event triggers, which a commit would fire, fire now (and are undone)
        -- a code of its own, caught just below (not 'PT000': a code ending in 000 names its whole class)
        RAISE EXCEPTION 'warm-up done' USING ERRCODE = 'PT001';
    EXCEPTION
        WHEN SQLSTATE 'PT001' THEN
            RETURN true;    -- ran through, then undone
        WHEN OTHERS THEN
            RETURN false;   -- the capture's own error: undone as well
    END;
END
$$;
COMMENT ON FUNCTION api.warm_up() IS
    'Warms a new backend for captures: one capture of a made-up lead in a subtransaction that is always rolled back '
    '(nothing kept); true when the capture ran through. Run by the API on each new pool connection (DB_POOL_WARM). '
    'SECURITY DEFINER: it acts as an integration caller inside the undone subtransaction.';
