REVOKE USAGE ON SCHEMA crm FROM thinkrealty_app;
DO $$
DECLARE
    v_table text;
    v_policy record;
BEGIN
    FOREACH v_table IN ARRAY ARRAY['leads', 'lead_assignments', 'lead_activities', 'follow_up_tasks',
                                   'lead_conversion_history'] LOOP
        FOR v_policy IN SELECT policyname FROM pg_policies WHERE schemaname = 'crm' AND tablename = v_table LOOP
            EXECUTE format('DROP POLICY %I ON crm.%I', v_policy.policyname, v_table);
        END LOOP;
        EXECUTE format('ALTER TABLE crm.%I DISABLE ROW LEVEL SECURITY', v_table);
        EXECUTE format('REVOKE ALL ON crm.%I FROM thinkrealty_app', v_table);
    END LOOP;
END
$$;
REVOKE ALL ON crm.agents, crm.agent_performance_metrics, crm.lead_sources, crm.settings FROM thinkrealty_app;
DROP TABLE IF EXISTS crm.api_permissions;
DROP TABLE IF EXISTS crm.api_keys;
DROP TYPE IF EXISTS crm.api_role CASCADE;
