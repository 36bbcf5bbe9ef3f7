-- 0015 responses keep the order the API documents: the answer a capture remembers for its retries is stored as
-- json (its text as built, keys in the documented order) rather than jsonb (which sorts keys by length), so a
-- replay answers byte for byte in the order of the first answer.
ALTER TABLE crm.idempotency_keys ALTER COLUMN response_body TYPE json USING response_body::json;
COMMENT ON COLUMN crm.idempotency_keys.response_body IS
    'The first answer''s body as sent (json: its keys in the documented order), returned to every retry.';

COMMENT ON TABLE crm.api_keys IS
    'API keys: the SHA-256 of each key (never the key), its lookup prefix, role, the agent an agent key is bound to, '
    'and its revocation. Created and revoked by api.create_api_key / api.revoke_api_key (crmctl keys).';
