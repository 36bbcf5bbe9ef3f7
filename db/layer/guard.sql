-- Run by a rollback after the migrations were rolled back, when the crm schema is still there: until some
-- release's migrate re-applies its function files, every write to a crm table refuses clearly (PT503
-- function_layer_missing, naming the migration the schema is at) instead of running without its rules (counters,
-- history, audit, transitions are all triggers). The guard stands aside by itself once a function layer is back
-- (api.capture_lead exists: every release has it), so an older release that knows nothing of it still works;
-- this release's migrate drops it.
CREATE OR REPLACE FUNCTION crm.function_layer_missing()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = ''
AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_catalog.pg_proc AS p
                WHERE p.pronamespace = 'api'::regnamespace AND p.proname = 'capture_lead') THEN
        RETURN NULL;
    END IF;
    RAISE EXCEPTION 'the database was rolled back to migration % and has no functions: its rules are not installed',
                    (SELECT max(m.migration_id) FROM public._yoyo_migration AS m)
        USING ERRCODE = 'PT503', CONSTRAINT = 'function_layer_missing',
              HINT = 'Run migrate of the release built for this migration (docs/operations.md).';
END
$$;
COMMENT ON FUNCTION crm.function_layer_missing() IS
    'Guard trigger installed by a rollback: refuses writes to crm tables until a function layer is applied. Errors: '
    'PT503 function_layer_missing.';

DO $$
DECLARE
    v_table text;
BEGIN
    FOR v_table IN
        SELECT c.oid::regclass::text FROM pg_catalog.pg_class AS c
         WHERE c.relnamespace = 'crm'::regnamespace AND c.relkind IN ('r', 'p')
    LOOP
        EXECUTE pg_catalog.format('CREATE OR REPLACE TRIGGER zz_function_layer_missing BEFORE INSERT OR UPDATE OR '
                                  'DELETE OR TRUNCATE ON %s FOR EACH STATEMENT '
                                  'EXECUTE FUNCTION crm.function_layer_missing()', v_table);
    END LOOP;
END
$$;
