"""Every SQL statement crmctl sends, in one place: the commands' calls of `api` and `jobs` functions, and what the
migration runner (crmctl/database.py) runs around yoyo and the files of db/.

psycopg statements take `%s` parameters; asyncpg ones (the sweep) take `$n`. A `{}` is an identifier or literal
that psycopg.sql composes in (a role's or a database's name, a password), never text pasted in.
"""

# -- servers (crmctl/environment.py) -----------------------------------------------------------------------------------
# does the database exist: name
DATABASE_EXISTS = "SELECT 1 FROM pg_database WHERE datname = %s"
# create it: {} the name
CREATE_DATABASE = "CREATE DATABASE {}"

# -- API keys (crmctl/keys.py), as the schema owner --------------------------------------------------------------------
# make a key: role, label, agent id, actor -> the key (shown once) and its row
CREATE_API_KEY = "SELECT api.create_api_key(%s, %s, %s, %s)"
# every key: prefix, role, state, label (never the key)
LIST_API_KEYS = "SELECT api.list_api_keys()"
# revoke a key: prefix or id, actor
REVOKE_API_KEY = "SELECT api.revoke_api_key(%s, %s)"
# `make run`: is the development admin key there and not revoked
DEV_ADMIN_KEY = ("SELECT prefix FROM crm.api_keys WHERE label = 'development admin (make run)' "
                 "AND revoked_at IS NULL")
# `make run`: make it
CREATE_DEV_ADMIN_KEY = ("SELECT api.create_api_key('admin', 'development admin (make run)', NULL, "
                        "'make run')")

# -- sweeps (crmctl/sweep.py), as the job login ------------------------------------------------------------------------
# what a sweep at this clock would do, rolled back: clock (ISO 8601 text)
REHEARSE_SWEEPS = "SELECT jobs.rehearse_sweeps($1::text::timestamptz)::text"
# the sweeps, for real: clock (NULL: now), force a clock far ahead
RUN_SWEEPS = "SELECT jobs.run_sweeps($1::text::timestamptz, $2)::text"
# the analytics snapshot: even before analytics_refresh_interval has passed?
REFRESH_ANALYTICS = "SELECT jobs.refresh_analytics($1)::text"

# -- the migration runner (crmctl/database.py) -------------------------------------------------------------------------
# one migrate / rollback / seed at a time, cluster-wide: the lock key
APPLY_LOCK = "SELECT pg_advisory_lock(%s)"
APPLY_UNLOCK = "SELECT pg_advisory_unlock(%s)"
# does the login exist: role name
ROLE_EXISTS = "SELECT 1 FROM pg_roles WHERE rolname = %s"
# create it: {} the role
CREATE_ROLE = "CREATE ROLE {} LOGIN"
# set its password: {} the role, {} the password
SET_ROLE_PASSWORD = "ALTER ROLE {} PASSWORD {}"
# the API login's statement timeout as its own default: it holds on every path, PgBouncer's transaction mode included
# (which refuses it as a startup parameter); a direct connection's startup parameter overrides it with the same value
SET_ROLE_STATEMENT_TIMEOUT = "ALTER ROLE {} SET statement_timeout = {}"
ROLE_STATEMENT_TIMEOUT_IS = ("SELECT 1 FROM pg_db_role_setting AS s JOIN pg_roles AS r ON r.oid = s.setrole "
                             "WHERE r.rolname = %s AND s.setdatabase = 0 AND %s = ANY (s.setconfig)")
# migrate lifts the guard a rollback left (db/layer/guard.sql) before anything writes to crm
DROP_ROLLBACK_GUARD = "DROP FUNCTION IF EXISTS crm.function_layer_missing() CASCADE"
# after a rollback: is there still a crm schema to guard
CRM_SCHEMA_EXISTS = "SELECT to_regnamespace('crm') IS NOT NULL"
# `serve` seeds only an empty database: how many agents
COUNT_AGENTS = "SELECT count(*) FROM crm.agents"
# the seed transaction's actor, for the audit trail
SEED_ACTOR = "SELECT set_config('crm.actor', 'seed', true)"
# after the seed: the reports see the demo data at once
REFRESH_ANALYTICS_SNAPSHOT = "SELECT crm.refresh_analytics_snapshot(true)"

# -- the generated catalogue (crmctl/catalogue.py) ---------------------------------------------------------------------
# every function of our schemas: schema, signature, kind, SECURITY DEFINER?, comment, body (for its raises)
CATALOGUE_FUNCTIONS = """
    SELECT n.nspname, p.oid::regprocedure::text, p.prosecdef, coalesce(obj_description(p.oid, 'pg_proc'), ''),
           p.prosrc, p.prorettype = 'trigger'::regtype
      FROM pg_proc AS p JOIN pg_namespace AS n ON n.oid = p.pronamespace
     WHERE n.nspname IN ('crm', 'api', 'jobs', 'reporting') AND p.prokind = 'f'
     ORDER BY 1, 2"""
# every named constraint of crm: table, name, kind, columns, comment
CATALOGUE_CONSTRAINTS = """
    SELECT c.conrelid::regclass::text, c.conname, c.contype::text,
           coalesce((SELECT string_agg(a.attname, ', ' ORDER BY k.ord)
                       FROM unnest(c.conkey) WITH ORDINALITY AS k (attnum, ord)
                       JOIN pg_attribute AS a ON a.attrelid = c.conrelid AND a.attnum = k.attnum), ''),
           coalesce(obj_description(c.oid, 'pg_constraint'), '')
      FROM pg_constraint AS c
     WHERE c.connamespace = 'crm'::regnamespace AND c.contype IN ('c', 'u', 'x', 'f')
     ORDER BY 1, 2"""
# every trigger on a crm table: table, trigger, function
CATALOGUE_TRIGGERS = """
    SELECT t.tgrelid::regclass::text, t.tgname, t.tgfoid::regprocedure::text
      FROM pg_trigger AS t JOIN pg_class AS c ON c.oid = t.tgrelid
     WHERE c.relnamespace = 'crm'::regnamespace AND NOT t.tgisinternal
     ORDER BY 1, 2"""
# a scratch database to build it from: {} its name
CREATE_DATABASE = "CREATE DATABASE {}"
DROP_DATABASE = "DROP DATABASE IF EXISTS {} WITH (FORCE)"
