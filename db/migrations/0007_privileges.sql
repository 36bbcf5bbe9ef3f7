-- 0007 privileges. The roles are cluster-wide and created by db/apply.py (ensure_roles) before any
-- migration runs: thinkrealty_app (the API's login) and thinkrealty_reporting (BI tools, read-only).
-- Objects are owned by the migrating role (the owner). New schemas and tables grant nothing to PUBLIC;
-- functions do by default, so that default is turned off here (PostgREST's pattern).

-- (a per-schema default cannot take away the global one, so this is the owner's global default;
-- db/functions/99_privileges.sql also revokes explicitly from every function that exists)
ALTER DEFAULT PRIVILEGES REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC;

-- the app calls api.* (SECURITY DEFINER functions do the work) and may read reporting.*
GRANT USAGE ON SCHEMA api TO thinkrealty_app;
GRANT USAGE ON SCHEMA reporting TO thinkrealty_app;

-- BI tools: reporting only
GRANT USAGE ON SCHEMA reporting TO thinkrealty_reporting;
