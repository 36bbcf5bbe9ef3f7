DROP INDEX IF EXISTS crm.lead_conversion_history_agent_closed_idx;
COMMENT ON COLUMN crm.idempotency_keys.request_hash IS 'SHA-256 of the normalised request, to detect a key reused for another request.';
