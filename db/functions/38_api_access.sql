-- Access control (crm.caller and crm.authorize are in 10_crm_access.sql, before the functions that call them; the
-- row-level security policies in 90_policies.sql): who the caller of a transaction is (api.begin_request, from an
-- API key) and the keys themselves (api.create_api_key, api.list_api_keys, api.revoke_api_key).
--
-- The caller is sealed (crm.seal_caller): only api.begin_request, after the key checked out, makes one for the
-- API's login, and a set_config of the caller settings makes nobody. A DBA in psql may act as a caller with
-- crm.act_as(role, agent) to see what it sees.

-- api.begin_request(key, action, agent, lead): the first thing of every API transaction. Checks the key (and that
-- an agent key's agent is still active), makes its holder the transaction's sealed caller and actor, and, when an
-- action is named, authorizes it; returns the caller for the statement. The api functions behind endpoints
-- authorize themselves, so the API names an action only where none runs (a dashboard served from the cache).
CREATE OR REPLACE FUNCTION api.begin_request(p_key text, p_action text DEFAULT NULL, p_agent_id uuid DEFAULT NULL,
                                             p_lead_id uuid DEFAULT NULL)
RETURNS TABLE (actor text, role text, agent_id uuid, key_prefix text)
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = ''
AS $$
DECLARE
    v_key crm.api_keys%ROWTYPE;
BEGIN
    IF p_key IS NULL OR p_key = '' THEN
        RAISE EXCEPTION 'no API key was presented: send X-API-Key (or Authorization: Bearer)'
            USING ERRCODE = 'PT401', CONSTRAINT = 'api_key_missing';
    END IF;
    SELECT k.* INTO v_key
      FROM crm.api_keys AS k
     WHERE k.prefix = substring(p_key FROM '^trk_([0-9a-f]{8})_')
       AND k.secret_hash = pg_catalog.sha256(pg_catalog.convert_to(p_key, 'UTF8'))
       AND k.revoked_at IS NULL;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'the API key is unknown or revoked' USING ERRCODE = 'PT401', CONSTRAINT = 'api_key_invalid';
    END IF;
    -- (two IFs, not one AND: a condition that a parameter's value folds away is planned again on every call)
    IF v_key.agent_id IS NOT NULL THEN
        IF NOT EXISTS (SELECT 1 FROM crm.agents AS g WHERE g.agent_id = v_key.agent_id AND g.is_active) THEN
            RAISE EXCEPTION 'the API key belongs to an agent who is no longer active'
                USING ERRCODE = 'PT401', CONSTRAINT = 'api_key_inactive_agent';
        END IF;
    END IF;
    PERFORM crm.seal_caller(v_key.role::text, v_key.agent_id, v_key.prefix);
    IF p_action IS NOT NULL THEN
        PERFORM crm.authorize(p_action, p_agent_id, p_lead_id);
    END IF;
    -- the caller just sealed, named as crm.actor() names it (not asked of crm.actor: its seal check costs a capture
    -- 0.8 % of its instructions, and the values are the ones sealed here)
    actor := crm.caller_actor(v_key.role::text, v_key.prefix);
    role := v_key.role::text;
    agent_id := v_key.agent_id;
    key_prefix := v_key.prefix;
    RETURN NEXT;
END
$$;
COMMENT ON FUNCTION api.begin_request(text, text, uuid, uuid) IS
    'Authenticates an API key (sha256 of the key against crm.api_keys, by its prefix; revoked keys and keys of '
    'deactivated agents fail at once) and makes its holder the sealed caller of the transaction (crm.seal_caller; '
    'actor "<role>:<prefix>"), then, when p_action is given, crm.authorize(p_action, p_agent_id, p_lead_id). The API '
    'runs every call as SELECT api.x(...) FROM api.begin_request(key) AS ctx (one statement, one round trip; api.x '
    'authorizes itself). Errors: PT401 api_key_missing, api_key_invalid, api_key_inactive_agent; those of '
    'crm.authorize. SECURITY DEFINER: reads crm.api_keys and seals the caller with a secret no caller may read.';

-- keys: create (the key is returned once and never stored), list, revoke
CREATE OR REPLACE FUNCTION api.create_api_key(p_role text, p_label text, p_agent_id uuid DEFAULT NULL,
                                              p_actor text DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = ''
AS $$
DECLARE
    v_prefix text;
    v_key    text;
    v_row    crm.api_keys%ROWTYPE;
BEGIN
    PERFORM crm.authorize('manage_keys');
    IF p_role IS NULL OR p_role NOT IN ('integration', 'agent', 'supervisor', 'admin') THEN
        RAISE EXCEPTION 'role must be one of integration, agent, supervisor, admin'
            USING ERRCODE = 'PT422', CONSTRAINT = 'api_key_role_unknown';
    END IF;
    IF p_role = 'agent' AND NOT EXISTS (SELECT 1 FROM crm.agents AS g WHERE g.agent_id = p_agent_id) THEN
        RAISE EXCEPTION 'an agent key needs the id of an existing agent'
            USING ERRCODE = 'PT422', CONSTRAINT = 'api_keys_agent_binding';
    END IF;
    LOOP  -- 32 random bits of prefix: retry on the rare collision
        v_prefix := substr(md5(gen_random_uuid()::text), 1, 8);
        EXIT WHEN NOT EXISTS (SELECT 1 FROM crm.api_keys AS k WHERE k.prefix = v_prefix);
    END LOOP;
    -- two version-4 UUIDs: 244 bits from the server's strong random source
    v_key := 'trk_' || v_prefix || '_' || replace(gen_random_uuid()::text, '-', '')
             || replace(gen_random_uuid()::text, '-', '');
    INSERT INTO crm.api_keys (prefix, secret_hash, role, agent_id, label, created_by)
    VALUES (v_prefix, pg_catalog.sha256(pg_catalog.convert_to(v_key, 'UTF8')), p_role::crm.api_role,
            CASE WHEN p_role = 'agent' THEN p_agent_id END, p_label,
            coalesce(CASE WHEN crm.session_is_trusted() THEN nullif(p_actor, '') END, crm.actor()))
    RETURNING * INTO v_row;
    RETURN pg_catalog.jsonb_build_object('key', v_key, 'key_id', v_row.key_id, 'prefix', v_row.prefix,
                                         'role', v_row.role, 'agent_id', v_row.agent_id, 'label', v_row.label,
                                         'created_at', v_row.created_at);
END
$$;
COMMENT ON FUNCTION api.create_api_key(text, text, uuid, text) IS
    'Creates an API key and returns it (the only time it is shown: only its sha256 is stored). Agent keys are bound '
    'to p_agent_id. Admin callers only (or a DBA session). Errors: PT422 api_key_role_unknown, api_keys_agent_binding, '
    'api_keys_label_length. SECURITY DEFINER: writes crm.api_keys.';

CREATE OR REPLACE FUNCTION api.list_api_keys()
RETURNS jsonb
LANGUAGE plpgsql
STABLE
SECURITY DEFINER
SET search_path = ''
AS $$
BEGIN
    PERFORM crm.authorize('manage_keys');
    RETURN (SELECT coalesce(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
                       'key_id', k.key_id, 'prefix', k.prefix, 'role', k.role, 'agent_id', k.agent_id,
                       'label', k.label, 'created_at', k.created_at, 'created_by', k.created_by,
                       'revoked_at', k.revoked_at, 'revoked_by', k.revoked_by) ORDER BY k.created_at), '[]')
              FROM crm.api_keys AS k);
END
$$;
COMMENT ON FUNCTION api.list_api_keys() IS
    'Every API key without its secret: prefix, role, agent, label, when created and revoked. Admin callers only. '
    'SECURITY DEFINER: reads crm.api_keys.';

CREATE OR REPLACE FUNCTION api.revoke_api_key(p_key_ref text, p_actor text DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = ''
AS $$
DECLARE
    v_row crm.api_keys%ROWTYPE;
BEGIN
    PERFORM crm.authorize('manage_keys');
    UPDATE crm.api_keys AS k
       SET revoked_at = coalesce(k.revoked_at, now()),
           revoked_by = coalesce(k.revoked_by, CASE WHEN crm.session_is_trusted() THEN nullif(p_actor, '') END,
                                 crm.actor())
     WHERE k.prefix = p_key_ref OR k.key_id::text = p_key_ref
    RETURNING * INTO v_row;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no API key with the prefix or id %', p_key_ref
            USING ERRCODE = 'PT404', CONSTRAINT = 'api_key_not_found';
    END IF;
    RETURN pg_catalog.jsonb_build_object('key_id', v_row.key_id, 'prefix', v_row.prefix, 'role', v_row.role,
                                         'revoked_at', v_row.revoked_at, 'revoked_by', v_row.revoked_by);
END
$$;
COMMENT ON FUNCTION api.revoke_api_key(text, text) IS
    'Revokes the key with this prefix or id: it fails from the next request on (keys are checked on every request, '
    'nothing caches them). Idempotent. Admin callers only. Errors: PT404 api_key_not_found. SECURITY DEFINER.';
