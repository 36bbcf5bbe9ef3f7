-- Who calls: the caller of a transaction, sealed so that only api.begin_request (after a real key checked out) or a
-- DBA's crm.act_as can make one, and crm.authorize, the endpoint matrix (crm.api_permissions, migration 0012)
-- checked against that caller. First of the function files: everything else asks these.
--
-- The caller lives in transaction-local settings: crm.caller_role, crm.caller_agent_id, crm.caller_key and
-- crm.caller_seal, a MAC over the three, the backend and the transaction's start under the secret in
-- crm.caller_secret (owner only). A set_config of any of them by the app's login breaks the seal, and crm.caller()
-- then answers nobody: no rows under row-level security, no right in the matrix, no actor name.

-- crm.caller_mac(secret, role, agent, key): the MAC of a caller for this backend and this transaction under p_secret:
-- sha256(k || sha256(k || m)), the nested construction of HMAC over core sha256 (no pgcrypto); the message names the
-- backend and the transaction start, so a seal is worth nothing in another transaction. The one definition of the
-- seal: crm.caller_seal makes one with it, crm.caller checks one with it. A plain SQL expression without SET, which
-- the planner inlines into the expressions of those two (tests/db/test_migrations.py lists it among the functions
-- allowed no pinned search_path: it names nothing but its arguments and pg_catalog's functions and operators); the
-- secret is an argument, so it reads nothing and gives nothing away (EXECUTE is revoked from PUBLIC all the same).
CREATE OR REPLACE FUNCTION crm.caller_mac(p_secret bytea, p_role text, p_agent text, p_key text)
RETURNS text
LANGUAGE sql
STABLE
AS $$
    SELECT pg_catalog.encode(pg_catalog.sha256(p_secret OPERATOR(pg_catalog.||) pg_catalog.sha256(
               p_secret OPERATOR(pg_catalog.||) pg_catalog.convert_to(
                   pg_catalog.concat_ws(E'\n', p_role, p_agent, p_key, pg_catalog.pg_backend_pid(),
                                        extract(epoch FROM pg_catalog.now())), 'UTF8'))), 'hex')
$$;
COMMENT ON FUNCTION crm.caller_mac(bytea, text, text, text) IS
    'The MAC that binds a caller (role, agent, key prefix) to this backend and transaction under a secret (the one '
    'of crm.caller_secret). Owner only.';

-- crm.caller_seal(role, agent, key): the seal of a caller for this backend and this transaction, under the secret
-- of crm.caller_secret. Not executable by any login but the owner (EXECUTE is revoked from PUBLIC); runs inside the
-- SECURITY DEFINER functions below.
CREATE OR REPLACE FUNCTION crm.caller_seal(p_role text, p_agent text, p_key text)
RETURNS text
LANGUAGE plpgsql
STABLE
SET search_path = ''
AS $$
DECLARE
    v_secret bytea;
BEGIN
    -- (plpgsql, not sql: plpgsql keeps its plan for the session. The secret is read by a statement, the MAC computed
    -- as an expression: plpgsql keeps an expression's compiled state for the transaction, while a statement's is
    -- built again at each execution; about 11,000 instructions less a check.)
    SELECT s.secret INTO v_secret FROM crm.caller_secret AS s;
    RETURN crm.caller_mac(v_secret, p_role, p_agent, p_key);
END
$$;
COMMENT ON FUNCTION crm.caller_seal(text, text, text) IS
    'The MAC that binds a caller (role, agent, key prefix) to this backend and transaction, under crm.caller_secret '
    '(crm.caller_mac). Owner only.';

-- crm.seal_caller(role, agent, key): makes this the transaction's caller. Internal: api.begin_request calls it
-- after the key checked out, crm.act_as for a DBA.
CREATE OR REPLACE FUNCTION crm.seal_caller(p_role text, p_agent_id uuid, p_key text)
RETURNS void
LANGUAGE plpgsql
SET search_path = ''
AS $$
BEGIN
    -- (plpgsql: a SQL function with SET search_path is planned again on every call)
    PERFORM pg_catalog.set_config('crm.caller_role', p_role, true),
            pg_catalog.set_config('crm.caller_agent_id', coalesce(p_agent_id::text, ''), true),
            pg_catalog.set_config('crm.caller_key', coalesce(p_key, ''), true),
            pg_catalog.set_config('crm.caller_seal',
                                  crm.caller_seal(p_role, coalesce(p_agent_id::text, ''), coalesce(p_key, '')), true);
END
$$;
COMMENT ON FUNCTION crm.seal_caller(text, uuid, text) IS
    'Sets and seals the caller of the current transaction. Internal to api.begin_request and crm.act_as.';

-- crm.caller(): the transaction's caller when its seal holds; all NULL otherwise (nobody called through a key).
CREATE OR REPLACE FUNCTION crm.caller(OUT role text, OUT agent_id uuid, OUT key_prefix text)
LANGUAGE plpgsql
STABLE
SECURITY DEFINER
SET search_path = ''
AS $$
DECLARE
    v_role   text := nullif(pg_catalog.current_setting('crm.caller_role', true), '');
    v_agent  text := coalesce(pg_catalog.current_setting('crm.caller_agent_id', true), '');
    v_key    text := coalesce(pg_catalog.current_setting('crm.caller_key', true), '');
    v_secret bytea;
BEGIN
    IF v_role IS NULL THEN
        RETURN;
    END IF;
    -- the seal checked here with crm.caller_mac inlined, not by a call of crm.caller_seal: each call of a PL/pgSQL
    -- function costs about 4,500 instructions (docs/benchmarks.md), and a capture checks the seal twice
    SELECT s.secret INTO v_secret FROM crm.caller_secret AS s;
    IF pg_catalog.current_setting('crm.caller_seal', true) = crm.caller_mac(v_secret, v_role, v_agent, v_key) THEN
        role := v_role;
        agent_id := nullif(v_agent, '')::uuid;
        key_prefix := nullif(v_key, '');
    END IF;
END
$$;
COMMENT ON FUNCTION crm.caller() IS
    'The caller of the transaction (role, agent_id, key_prefix) if api.begin_request (or a DBA''s crm.act_as) sealed '
    'it in this transaction; NULLs otherwise, whatever the settings say. SECURITY DEFINER: checks the seal against '
    'crm.caller_secret, which no caller may read.';

-- the two halves the row-level security policies ask, each once per statement: (SELECT crm.caller_role())
CREATE OR REPLACE FUNCTION crm.caller_role()
RETURNS text
LANGUAGE sql
STABLE
SET search_path = ''
AS $$
    SELECT (crm.caller()).role
$$;
COMMENT ON FUNCTION crm.caller_role() IS 'The sealed caller''s role, or NULL (see crm.caller).';

CREATE OR REPLACE FUNCTION crm.caller_agent_id()
RETURNS uuid
LANGUAGE sql
STABLE
SET search_path = ''
AS $$
    SELECT (crm.caller()).agent_id
$$;
COMMENT ON FUNCTION crm.caller_agent_id() IS 'The sealed caller''s agent (agent keys only), or NULL (see crm.caller).';

-- crm.session_is_trusted(): a DBA's own session: a login that is (a member of) the owner of crm, or a superuser.
-- Such a session needs no key (psql as it always was) and may name the actor of its changes itself.
CREATE OR REPLACE FUNCTION crm.session_is_trusted()
RETURNS boolean
LANGUAGE sql
STABLE
SET search_path = ''
AS $$
    SELECT pg_catalog.pg_has_role(session_user, n.nspowner, 'MEMBER')
      FROM pg_catalog.pg_namespace AS n WHERE n.nspname = 'crm'
$$;
COMMENT ON FUNCTION crm.session_is_trusted() IS
    'True for a session of the schema owner (or a member of it, or a superuser): a DBA, trusted without a key. '
    'False for the API''s, the jobs'' and the BI logins.';

-- crm.act_as(role, agent): a DBA sees and does what that caller would (row-level security, the matrix). Owner only.
CREATE OR REPLACE FUNCTION crm.act_as(p_role text, p_agent_id uuid DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql
SET search_path = ''
AS $$
BEGIN
    IF NOT crm.session_is_trusted() THEN
        RAISE EXCEPTION 'only a DBA session may act as another caller'
            USING ERRCODE = 'PT403', CONSTRAINT = 'forbidden';
    END IF;
    PERFORM crm.seal_caller(p_role, p_agent_id, 'dba');
END
$$;
COMMENT ON FUNCTION crm.act_as(text, uuid) IS
    'For a DBA in psql: makes (role, agent) the caller of the current transaction, as a key would, to see what that '
    'caller sees. Owner only (never granted to the API''s login). Errors: PT403 forbidden.';

-- crm.authorize(action, agent, lead): raises unless the caller may run the action (on that agent's data, on that
-- lead). Every api function behind an endpoint calls it first, so the matrix holds for psql callers too. Returns the
-- caller's scope for the action: all, own, or trusted (a DBA's session without a caller). (A value, not void, so
-- that a hot path can assign it, v := crm.authorize(...), an expression, instead of PERFORM, a statement:
-- docs/benchmarks.md; the same holds for the other checks and writers of the capture that return a value.)
DROP FUNCTION IF EXISTS crm.authorize(text, uuid, uuid);
CREATE FUNCTION crm.authorize(p_action text, p_agent_id uuid DEFAULT NULL, p_lead_id uuid DEFAULT NULL)
RETURNS text
LANGUAGE plpgsql
STABLE
SECURITY DEFINER
SET search_path = ''
AS $$
DECLARE
    v_caller record := crm.caller();
    v_scope  text;
BEGIN
    IF v_caller.role IS NULL THEN
        IF NOT crm.session_is_trusted() THEN  -- the API's login (or any other) must say who calls, with a key
            RAISE EXCEPTION 'no API key was presented' USING ERRCODE = 'PT401', CONSTRAINT = 'api_key_missing';
        END IF;
        RETURN 'trusted';  -- a DBA's own session (the owner, a superuser): trusted, as psql always was
    END IF;
    SELECT p.scope INTO v_scope
      FROM crm.api_permissions AS p
     WHERE p.action = p_action AND p.role::text = v_caller.role;
    IF v_scope IS NULL THEN
        RAISE EXCEPTION 'an API key with the role % may not %', v_caller.role, replace(p_action, '_', ' ')
            USING ERRCODE = 'PT403', CONSTRAINT = 'forbidden',
                  DETAIL = pg_catalog.jsonb_build_object('role', v_caller.role, 'action', p_action)::text;
    END IF;
    IF v_scope = 'own' THEN
        IF p_agent_id IS NOT NULL AND p_agent_id IS DISTINCT FROM v_caller.agent_id THEN
            RAISE EXCEPTION 'an agent key sees its own agent''s data only'
                USING ERRCODE = 'PT403', CONSTRAINT = 'forbidden',
                      DETAIL = pg_catalog.jsonb_build_object('role', v_caller.role, 'action', p_action,
                                                             'scope', 'own')::text;
        END IF;
        IF p_lead_id IS NOT NULL AND NOT EXISTS (
               SELECT 1 FROM crm.lead_assignments AS a
                WHERE a.lead_id = p_lead_id AND a.agent_id = v_caller.agent_id AND a.released_at IS NULL) THEN
            -- another agent's lead does not exist for this caller (as row-level security shows it)
            RAISE EXCEPTION 'lead % not found', p_lead_id
                USING ERRCODE = 'PT404', CONSTRAINT = 'lead_not_found',
                      DETAIL = pg_catalog.json_build_object('lead_id', p_lead_id)::text;
        END IF;
    END IF;
    RETURN v_scope;
END
$$;
COMMENT ON FUNCTION crm.authorize(text, uuid, uuid) IS
    'Raises unless the sealed caller (crm.caller) may run p_action per crm.api_permissions; returns the scope (all, own; '
    'trusted for a DBA''s session without a caller). Errors: PT401 api_key_missing '
    '(no sealed caller in a session that is not a DBA''s), PT403 forbidden (role not allowed, or an agent key on '
    'another agent''s dashboard), PT404 lead_not_found (an agent key on a lead it does not hold). A DBA''s session '
    'without a caller is trusted. SECURITY DEFINER: reads the matrix and every agent''s assignments.';
