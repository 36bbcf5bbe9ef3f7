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
