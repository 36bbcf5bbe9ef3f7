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
