-- 0015 rolled back: the remembered answers become jsonb again (their keys sorted, as before 0015).
ALTER TABLE crm.idempotency_keys ALTER COLUMN response_body TYPE jsonb USING response_body::jsonb;
COMMENT ON COLUMN crm.idempotency_keys.response_body IS NULL;
COMMENT ON TABLE crm.api_keys IS
    'API keys: the SHA-256 of each key (never the key), its lookup prefix, role, the agent an agent key is bound to, '
    'and its revocation. Created and revoked by api.create_api_key / api.revoke_api_key (python -m api keys).';
