-- Row-level security policies (tables enable it in migrations 0012 and 0013). Created here, after the functions
-- they call (crm.caller_role, crm.caller_agent_id in 10_crm_access.sql).

-- row-level security: an agent caller sees (and may change) the leads openly assigned to them, with their
-- activities, status history, assignments and follow-ups; supervisors and admins see everything; any other caller,
-- and a session of a non-owner login with no sealed caller, sees nothing. The owner (migrations, SECURITY DEFINER
-- functions) is not subject to them. The caller is asked as (SELECT crm.caller_role()): an InitPlan, evaluated
-- once per statement, not once per row.
DO $$
DECLARE
    v_all   constant text := $q$(SELECT crm.caller_role()) IN ('supervisor', 'admin')$q$;
    v_agent constant text := $q$(SELECT crm.caller_role()) = 'agent'$q$;
    v_me    constant text := $q$(SELECT crm.caller_agent_id())$q$;
    v_mine  text;
    v_spec  record;
BEGIN
    -- a probe of the one open assignment of the row's lead (unique index lead_assignments_one_open_per_lead): a
    -- few microseconds per row read, where an IN (the agent's every assignment) list cost 5 to 10 ms per statement
    v_mine := 'EXISTS (SELECT 1 FROM crm.lead_assignments AS a WHERE a.lead_id = %I.lead_id AND a.agent_id = '
              || v_me || ' AND a.released_at IS NULL)';
    FOR v_spec IN SELECT * FROM (VALUES
            ('leads', format(v_mine, 'leads')),
            ('lead_activities', format(v_mine, 'lead_activities')),
            ('lead_conversion_history', format(v_mine, 'lead_conversion_history')),
            ('lead_preferred_areas', format(v_mine, 'lead_preferred_areas')),
            ('lead_property_interests', format(v_mine, 'lead_property_interests')),
            ('lead_assignments', format('agent_id = %s', v_me)),
            ('follow_up_tasks', format('agent_id = %s', v_me))) AS s (tbl, own) LOOP
        EXECUTE format('DROP POLICY IF EXISTS caller_scope ON crm.%I', v_spec.tbl);
        EXECUTE format('CREATE POLICY caller_scope ON crm.%I USING (%s OR (%s AND %s)) WITH CHECK (%s OR (%s AND %s))',
                       v_spec.tbl, v_all, v_agent, v_spec.own, v_all, v_agent, v_spec.own);
        EXECUTE format('COMMENT ON POLICY caller_scope ON crm.%I IS %L', v_spec.tbl,
                       'Supervisor and admin callers see every row; an agent caller only the rows of the leads '
                       'assigned to them (their own assignments and follow-ups); anyone else nothing. The caller is '
                       'the sealed one of crm.caller(), set by api.begin_request.');
    END LOOP;
    -- reference and policy rows the dashboard reads: any sealed caller, nobody without a key
    FOR v_spec IN SELECT * FROM (VALUES ('agents'), ('agent_performance_metrics'), ('lead_sources'), ('settings'))
                       AS s (tbl) LOOP
        EXECUTE format('DROP POLICY IF EXISTS caller_present ON crm.%I', v_spec.tbl);
        EXECUTE format('CREATE POLICY caller_present ON crm.%I FOR SELECT USING ((SELECT crm.caller_role()) IS NOT NULL)',
                       v_spec.tbl);
        EXECUTE format('COMMENT ON POLICY caller_present ON crm.%I IS %L', v_spec.tbl,
                       'Readable by a session with a sealed caller (a checked API key), by nobody else but the owner.');
    END LOOP;
END
$$;
