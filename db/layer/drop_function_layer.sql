-- Run by a rollback (crmctl migrate --rollback) before the migrations are rolled back: the function layer
-- (every function, trigger, view and policy of db/functions/) is the current release's, written against the tables
-- of the newest migration, so it cannot be vouched for against older tables. It is dropped whole: functions of
-- crm, api, jobs and reporting with CASCADE (their triggers, policies and the views that call them), then the
-- remaining views of reporting. Tables, their data, constraints, indexes and the analytics snapshot (migrations)
-- stay. docs/operations.md says how a release is rolled back.
DO $$
DECLARE
    v_object text;
    v_view   oid;
BEGIN
    FOR v_object IN
        SELECT p.oid::regprocedure::text
          FROM pg_catalog.pg_proc AS p
         WHERE p.pronamespace::regnamespace::text IN ('crm', 'api', 'jobs', 'reporting')
    LOOP
        EXECUTE pg_catalog.format('DROP ROUTINE IF EXISTS %s CASCADE', v_object);
    END LOOP;
    -- by oid, named at the drop: a view that an earlier one's CASCADE took is gone by then (its oid no longer
    -- names a relation, so a name taken before the drops would have been a bare number)
    FOR v_view IN
        SELECT c.oid FROM pg_catalog.pg_class AS c
         WHERE c.relnamespace::regnamespace::text = 'reporting' AND c.relkind = 'v'
    LOOP
        CONTINUE WHEN NOT EXISTS (SELECT 1 FROM pg_catalog.pg_class AS c WHERE c.oid = v_view);
        EXECUTE pg_catalog.format('DROP VIEW IF EXISTS %s CASCADE', v_view::regclass);
    END LOOP;
END
$$;
