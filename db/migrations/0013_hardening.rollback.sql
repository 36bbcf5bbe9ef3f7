DELETE FROM crm.settings
 WHERE setting_key IN ('follow_up_horizon', 'date_range_bounds', 'sweep_clock_tolerance', 'follow_up_slot_step');
ALTER TABLE crm.leads
    DROP CONSTRAINT leads_first_name_printable,
    DROP CONSTRAINT leads_last_name_printable,
    ADD CONSTRAINT leads_first_name_not_blank CHECK (btrim(first_name) <> ''),
    ADD CONSTRAINT leads_last_name_not_blank CHECK (btrim(last_name) <> '');
DO $$
DECLARE
    v_table text;
    v_policy record;
BEGIN
    FOREACH v_table IN ARRAY ARRAY['agents', 'agent_performance_metrics', 'lead_sources', 'settings'] LOOP
        FOR v_policy IN SELECT policyname FROM pg_policies WHERE schemaname = 'crm' AND tablename = v_table LOOP
            EXECUTE format('DROP POLICY %I ON crm.%I', v_policy.policyname, v_table);
        END LOOP;
        EXECUTE format('ALTER TABLE crm.%I DISABLE ROW LEVEL SECURITY', v_table);
    END LOOP;
END
$$;
GRANT USAGE ON SCHEMA reporting TO thinkrealty_app;
GRANT SELECT ON ALL TABLES IN SCHEMA reporting TO thinkrealty_app;
DROP SCHEMA jobs CASCADE;
DROP TABLE crm.caller_secret;
