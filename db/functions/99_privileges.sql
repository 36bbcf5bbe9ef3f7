-- Runs last, after every function and view exists: what the app, jobs and BI logins may use.
REVOKE EXECUTE ON ALL FUNCTIONS IN SCHEMA api, crm, reporting, jobs FROM PUBLIC;

-- the API's login: the api functions only (each authorizes its caller or is on the allow-list of
-- tests/db/test_access.py with its reason); no reporting object, no job
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA api TO thinkrealty_app;

-- the job login: the background jobs, nothing else
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA jobs TO thinkrealty_jobs;

-- BI tools: reporting only (reporting functions read crm as their owner, SECURITY DEFINER)
GRANT SELECT ON ALL TABLES IN SCHEMA reporting TO thinkrealty_reporting;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA reporting TO thinkrealty_reporting;

-- row-level security (90_policies.sql) decides which rows of these the app's login sees, and with no sealed
-- caller (no key checked in the transaction) that is none: the dashboard reads them as the caller (SECURITY
-- INVOKER), and a psql session of the login sees the same
GRANT SELECT ON crm.leads, crm.lead_assignments, crm.lead_activities, crm.follow_up_tasks, crm.lead_conversion_history,
                crm.lead_preferred_areas, crm.lead_property_interests,
                crm.agents, crm.agent_performance_metrics, crm.lead_sources, crm.settings
   TO thinkrealty_app;
-- what an agent may change on a lead of their own directly (the triggers keep every rule and derived column)
GRANT UPDATE (status, lost_reason, deal_value_aed, first_name, last_name, email, nationality, language_preference,
              budget_min, budget_max, property_type)
   ON crm.leads TO thinkrealty_app;
-- the crm functions the invoker-rights dashboard and the policies call (they reveal only the sealed caller)
GRANT EXECUTE ON FUNCTION crm.authorize(text, uuid, uuid), crm.setting(text), crm.human_duration(numeric),
                          crm.caller(), crm.caller_role(), crm.caller_agent_id()
   TO thinkrealty_app;
-- the dashboard's steps (37_api_dashboard.sql): they read as the caller, through the same policies
GRANT EXECUTE ON FUNCTION crm.dashboard_window(text, date, date, text, text, timestamptz),
                          crm.dashboard_leads(uuid, timestamptz, timestamptz, text, text),
                          crm.dashboard_rank_months(date, date), crm.response_time_ranks(date, date),
                          crm.dashboard_pending_tasks(uuid, timestamptz),
                          crm.dashboard_conversions(uuid, timestamptz, timestamptz, text),
                          crm.dashboard_pending_offers(uuid), crm.offer_accept_rate(uuid, timestamptz, timestamptz)
   TO thinkrealty_app;
-- the building blocks of the invoker-rights lead and follow-up reads (40_api_leads.sql, 41_api_follow_ups.sql)
GRANT EXECUTE ON FUNCTION crm.lead_resource(uuid), crm.lead_summaries(uuid[]), crm.page_limit(integer),
                          crm.encode_cursor(jsonb),
                          crm.decode_cursor(text),
                          crm.follow_up_resource(crm.follow_up_tasks, timestamptz, jsonb)
   TO thinkrealty_app;
-- the follow-up priority rule the pending tasks are ordered by (it reads only settings)
GRANT EXECUTE ON FUNCTION crm.follow_up_priority(integer, timestamptz, timestamptz), crm.sla_class(integer),
                          crm.setting_interval(text)
   TO thinkrealty_app;
-- the two pure rules that views and the invoker-rights dashboard inline (views run functions as their reader)
GRANT EXECUTE ON FUNCTION crm.is_closed(crm.lead_status), crm.conversion_rate(numeric, numeric)
   TO thinkrealty_app, thinkrealty_reporting;
-- the pure rule "an agent interaction" the invariant view asks (first_contact_mismatch)
GRANT EXECUTE ON FUNCTION crm.is_agent_interaction(crm.activity_type) TO thinkrealty_reporting;
-- the pure rule "an agent's own ranking points" the invariant view asks (agent_routing_mismatch)
GRANT EXECUTE ON FUNCTION crm.agent_points(numeric, integer, integer, jsonb) TO thinkrealty_reporting;
