-- 0006 operational tables: performance metrics, capture dead letters, idempotency keys.

CREATE TABLE crm.agent_performance_metrics (
    agent_id             uuid NOT NULL REFERENCES crm.agents (agent_id),
    period_month         date NOT NULL CONSTRAINT agent_performance_metrics_month_start CHECK (period_month = date_trunc('month', period_month)::date),
    leads_assigned       integer NOT NULL DEFAULT 0 CHECK (leads_assigned >= 0),
    leads_contacted      integer NOT NULL DEFAULT 0 CHECK (leads_contacted >= 0),
    conversions          integer NOT NULL DEFAULT 0 CHECK (conversions >= 0),
    lost                 integer NOT NULL DEFAULT 0 CHECK (lost >= 0),
    revenue_aed          numeric(16, 2) NOT NULL DEFAULT 0 CHECK (revenue_aed >= 0),
    avg_response_seconds integer CHECK (avg_response_seconds >= 0),
    conversion_rate      numeric(5, 2) CHECK (conversion_rate BETWEEN 0 AND 100),
    computed_at          timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (agent_id, period_month)
);
COMMENT ON TABLE crm.agent_performance_metrics IS
    'Per agent and calendar month (Asia/Dubai): assigned, contacted, converted, lost, revenue and response time. '
    'Derived data, recomputed by the sweep; safe to truncate.';
COMMENT ON COLUMN crm.agent_performance_metrics.period_month IS 'First day of the month (Asia/Dubai).';
COMMENT ON COLUMN crm.agent_performance_metrics.conversion_rate IS 'conversions / (conversions + lost) x 100 for leads closed in the month.';
CREATE INDEX agent_performance_metrics_month_idx ON crm.agent_performance_metrics (period_month);

CREATE TABLE crm.capture_dead_letters (
    dead_letter_id   uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    received_at      timestamptz NOT NULL DEFAULT now(),
    source_type      text,
    payload          jsonb,
    raw_body         text CONSTRAINT capture_dead_letters_raw_body_length CHECK (length(raw_body) <= 1048576),
    error_code       text NOT NULL,
    error_detail     jsonb NOT NULL DEFAULT '{}',
    request_id       text,
    idempotency_key  text,
    replayed_at      timestamptz,
    replayed_lead_id uuid REFERENCES crm.leads (lead_id)
);
COMMENT ON TABLE crm.capture_dead_letters IS
    'Captures that failed validation, kept with their raw payload so an operator can fix and replay them: a portal lead is never silently lost.';
COMMENT ON COLUMN crm.capture_dead_letters.payload IS 'The request body when it was valid JSON.';
COMMENT ON COLUMN crm.capture_dead_letters.raw_body IS 'The request body as text when it was not JSON.';
COMMENT ON COLUMN crm.capture_dead_letters.error_code IS 'The problem code the client received.';
COMMENT ON COLUMN crm.capture_dead_letters.replayed_lead_id IS 'Lead created when the letter was replayed.';
CREATE INDEX capture_dead_letters_pending_idx ON crm.capture_dead_letters (received_at) WHERE replayed_at IS NULL;

CREATE TABLE crm.idempotency_keys (
    scope           text NOT NULL,
    idempotency_key text NOT NULL CONSTRAINT idempotency_keys_key_length CHECK (length(idempotency_key) BETWEEN 1 AND 200),
    request_hash    text NOT NULL,
    response_status smallint NOT NULL CONSTRAINT idempotency_keys_status_range CHECK (response_status BETWEEN 200 AND 599),
    response_body   jsonb NOT NULL,
    lead_id         uuid REFERENCES crm.leads (lead_id),
    created_at      timestamptz NOT NULL DEFAULT now(),
    expires_at      timestamptz NOT NULL DEFAULT now() + interval '7 days',
    PRIMARY KEY (scope, idempotency_key)
);
COMMENT ON TABLE crm.idempotency_keys IS
    'Responses remembered per Idempotency-Key header: a retried request returns the first response and writes nothing. '
    'A reused key with a different body is refused (request_hash).';
COMMENT ON COLUMN crm.idempotency_keys.scope IS 'Which operation the key belongs to (capture).';
COMMENT ON COLUMN crm.idempotency_keys.request_hash IS 'SHA-256 of the normalised request, to detect a key reused for another request.';
CREATE INDEX idempotency_keys_expires_idx ON crm.idempotency_keys (expires_at);
