-- Dead letters: captures that failed validation, kept for an operator to list and replay
-- (GET /api/v1/leads/capture/dead-letters, POST .../{id}/replay).

CREATE OR REPLACE FUNCTION api.record_capture_dead_letter(
    p_source_type text, p_payload jsonb, p_raw_body text, p_error_code text, p_errors jsonb,
    p_request_id text, p_idempotency_key text)
RETURNS uuid
LANGUAGE sql
SECURITY DEFINER
SET search_path = ''
AS $$
    SELECT crm.authorize('capture');
    INSERT INTO crm.capture_dead_letters (source_type, payload, raw_body, error_code, error_detail, request_id, idempotency_key)
    VALUES (left(p_source_type, 100), p_payload, left(p_raw_body, 65536), p_error_code,
            coalesce(p_errors, '{}'::jsonb), left(p_request_id, 100), left(p_idempotency_key, 200))
    RETURNING dead_letter_id
$$;
COMMENT ON FUNCTION api.record_capture_dead_letter(text, jsonb, text, text, jsonb, text, text) IS
    'Stores a capture that failed validation (payload if it was JSON, else the raw body capped at 64 KiB, and the errors). '
    'SECURITY DEFINER: writes crm.';

DROP FUNCTION IF EXISTS api.capture_dead_letters(boolean, integer);
CREATE FUNCTION api.capture_dead_letters(p_pending_only boolean DEFAULT true, p_limit integer DEFAULT 100)
RETURNS json
LANGUAGE sql
STABLE
SECURITY DEFINER
SET search_path = ''
AS $$
    SELECT crm.authorize('dead_letters');
    SELECT coalesce(pg_catalog.json_agg(pg_catalog.to_json(d) ORDER BY d.received_at DESC), '[]'::json)
      FROM (SELECT * FROM crm.capture_dead_letters AS x
             WHERE NOT p_pending_only OR x.replayed_at IS NULL
             ORDER BY x.received_at DESC
             LIMIT greatest(1, least(p_limit, 1000))) AS d
$$;
COMMENT ON FUNCTION api.capture_dead_letters(boolean, integer) IS
    'Dead letters, newest first (only those not yet replayed by default). SECURITY DEFINER: reads crm.';

DROP FUNCTION IF EXISTS api.capture_dead_letter(uuid);
CREATE FUNCTION api.capture_dead_letter(p_dead_letter_id uuid)
RETURNS json
LANGUAGE sql
STABLE
SECURITY DEFINER
SET search_path = ''
AS $$
    SELECT crm.authorize('dead_letters');
    SELECT pg_catalog.to_json(d) FROM crm.capture_dead_letters AS d WHERE d.dead_letter_id = p_dead_letter_id
$$;
COMMENT ON FUNCTION api.capture_dead_letter(uuid) IS 'One dead letter (NULL when unknown). SECURITY DEFINER: reads crm.';
