-- Runs last, after every function and view exists: what the app and BI logins may use.
REVOKE EXECUTE ON ALL FUNCTIONS IN SCHEMA api, crm, reporting FROM PUBLIC;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA api TO thinkrealty_app;
GRANT SELECT ON ALL TABLES IN SCHEMA reporting TO thinkrealty_app, thinkrealty_reporting;
-- reporting functions read crm as their owner (SECURITY DEFINER): the BI login and the app may call them
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA reporting TO thinkrealty_app, thinkrealty_reporting;

-- row-level security (26_api_access.sql) decides which rows of these the app's login sees: the dashboard reads
-- them as the caller (SECURITY INVOKER), and a psql session of the login with a caller set sees the same
GRANT SELECT ON crm.leads, crm.lead_assignments, crm.lead_activities, crm.follow_up_tasks, crm.lead_conversion_history,
                crm.agents, crm.agent_performance_metrics, crm.lead_sources, crm.settings
   TO thinkrealty_app;
-- what an agent may change on a lead of their own directly (the triggers keep every rule and derived column)
GRANT UPDATE (status, lost_reason, deal_value_aed, first_name, last_name, email, nationality, language_preference,
              budget_min, budget_max, property_type)
   ON crm.leads TO thinkrealty_app;
-- the crm functions the invoker-rights dashboard calls
GRANT EXECUTE ON FUNCTION crm.authorize(text, uuid, uuid), crm.setting(text), crm.human_duration(numeric)
   TO thinkrealty_app;
