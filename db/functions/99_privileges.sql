-- Runs last, after every function and view exists: what the app and BI logins may use.
REVOKE EXECUTE ON ALL FUNCTIONS IN SCHEMA api, crm, reporting FROM PUBLIC;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA api TO thinkrealty_app;
GRANT SELECT ON ALL TABLES IN SCHEMA reporting TO thinkrealty_app, thinkrealty_reporting;
-- reporting functions read crm as their owner (SECURITY DEFINER): the BI login and the app may call them
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA reporting TO thinkrealty_app, thinkrealty_reporting;
