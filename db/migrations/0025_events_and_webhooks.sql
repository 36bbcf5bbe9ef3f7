-- 0025 events and webhooks (issue 15): an outbox written by the transaction that makes each change (triggers of
-- db/functions/27_crm_events.sql), the topics it knows, webhook subscriptions, one delivery row per event and
-- matching subscription (fanned out by the same transaction), and the log of every attempt.

-- the topics an event can have, each with the version of its payload's schema (docs/events.md)
CREATE TABLE crm.event_topics (
    topic       text PRIMARY KEY CONSTRAINT event_topics_topic_format CHECK (topic ~ '^[a-z_]+\.[a-z_]+$'),
    version     smallint NOT NULL CONSTRAINT event_topics_version_positive CHECK (version > 0),
    description text NOT NULL
);
COMMENT ON TABLE crm.event_topics IS
    'The topics of crm.outbox_events, with the version of each payload''s schema (docs/events.md). A subscription '
    'names topics of this table only.';
INSERT INTO crm.event_topics (topic, version, description) VALUES
    ('lead.captured', 1, 'A lead was stored (by a capture, a replayed dead letter or an INSERT in psql).'),
    ('lead.queued', 1, 'A lead is waiting for an agent with capacity.'),
    ('lead.assigned', 1, 'A lead without an agent got one (agent, method, reason).'),
    ('lead.reassigned', 1, 'A lead moved from one agent to another (from, to, reason).'),
    ('lead.status_changed', 1, 'A lead moved along the pipeline (old, new status, by whom).'),
    ('lead.duplicate_detected', 1, 'A new inquiry came from a client who inquired through another source recently.'),
    ('follow_up.scheduled', 1, 'A follow-up task was booked for an agent.'),
    ('follow_up.escalated', 1, 'An overdue follow-up was escalated to a supervisor.'),
    ('agent.capacity_reached', 1, 'An agent reached their cap of active leads.');

-- the outbox: one row per event, written by the transaction of the change (never by anything else)
CREATE TABLE crm.outbox_events (
    event_id       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    topic          text NOT NULL REFERENCES crm.event_topics (topic),
    version        smallint NOT NULL,
    lead_id        uuid,
    agent_id       uuid,
    other_agent_id uuid,
    data           jsonb NOT NULL CONSTRAINT outbox_events_data_object CHECK (jsonb_typeof(data) = 'object'),
    actor          text NOT NULL,
    occurred_at    timestamptz NOT NULL DEFAULT clock_timestamp()
);
COMMENT ON TABLE crm.outbox_events IS
    'The transactional outbox: every event another system may hear about, written by the transaction that made the '
    'change (triggers of 27_crm_events.sql), so a rolled-back change emits nothing and a committed one always does. '
    'Pruned by the sweep after event_retention once no delivery of it is pending. No foreign keys to the lead or '
    'agent: an event is a record of what happened, and the capture path pays for no extra check.';
COMMENT ON COLUMN crm.outbox_events.event_id IS
    'Increasing in the order events were written; per lead, the order of its changes (they hold the lead''s row '
    'lock). Sent as X-ThinkRealty-Event-Id, for the receiver''s de-duplication.';
COMMENT ON COLUMN crm.outbox_events.agent_id IS
    'The agent the event concerns: the lead''s agent (the new one for lead.reassigned), the task''s agent, the agent '
    'at capacity. Subscriptions with an agent filter match it or other_agent_id.';
COMMENT ON COLUMN crm.outbox_events.other_agent_id IS
    'The second agent of an event: the one a reassigned lead left, the supervisor an escalation went to.';
COMMENT ON COLUMN crm.outbox_events.occurred_at IS 'When the event was written, just before its transaction committed.';
COMMENT ON COLUMN crm.outbox_events.actor IS 'crm.actor() of the change: the API caller, the sweep, a DBA''s login.';
CREATE INDEX outbox_events_occurred_idx ON crm.outbox_events (occurred_at);

-- subscriptions: where to send which topics (optionally only about one agent's leads), and the signing secret
CREATE TABLE crm.webhook_subscriptions (
    subscription_id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    url             text NOT NULL CONSTRAINT webhook_subscriptions_url_format
                        CHECK (url ~ '^https?://[^/?#\s@]+(/[^\s]*)?$' AND length(url) <= 2000),
    topics          text[] NOT NULL CONSTRAINT webhook_subscriptions_topics_given
                        CHECK (cardinality(topics) BETWEEN 1 AND 50),
    agent_id        uuid REFERENCES crm.agents (agent_id),
    description     text CONSTRAINT webhook_subscriptions_description_length CHECK (length(description) <= 500),
    secret          text NOT NULL CONSTRAINT webhook_subscriptions_secret_length CHECK (length(secret) >= 32),
    is_active       boolean NOT NULL DEFAULT true,
    disabled_at     timestamptz,
    disabled_reason text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    created_by      text NOT NULL DEFAULT current_user,
    updated_at      timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE crm.webhook_subscriptions IS
    'Webhook subscriptions: every event of one of `topics` (and, with agent_id, only about that agent''s leads) is '
    'POSTed to url, signed with secret (HMAC-SHA256, docs/events.md). A 410 Gone answer disables the subscription.';
COMMENT ON COLUMN crm.webhook_subscriptions.secret IS
    'The signing key, shown once when the subscription is created (or its secret rotated). Readable by the owner and '
    'the dispatcher''s functions only.';
COMMENT ON COLUMN crm.webhook_subscriptions.agent_id IS
    'When set, only events about this agent (their leads, their tasks, their capacity): a push gateway''s feed for one agent.';

-- deliveries: one per (subscription, event), written with the event; the dispatcher's queue and its log
CREATE TYPE crm.delivery_state AS ENUM ('pending', 'delivered', 'dead');
CREATE TABLE crm.webhook_deliveries (
    subscription_id uuid NOT NULL REFERENCES crm.webhook_subscriptions (subscription_id) ON DELETE CASCADE,
    event_id        bigint NOT NULL,
    lead_id         uuid,
    state           crm.delivery_state NOT NULL DEFAULT 'pending',
    attempts        integer NOT NULL DEFAULT 0 CONSTRAINT webhook_deliveries_attempts_nonnegative CHECK (attempts >= 0),
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    delivered_at    timestamptz,
    dead_at         timestamptz,
    PRIMARY KEY (subscription_id, event_id),
    CONSTRAINT webhook_deliveries_delivered_stamped CHECK ((state = 'delivered') = (delivered_at IS NOT NULL)),
    CONSTRAINT webhook_deliveries_dead_stamped CHECK ((state = 'dead') = (dead_at IS NOT NULL))
);
COMMENT ON TABLE crm.webhook_deliveries IS
    'One event to one subscription: pending until a 2xx answer (delivered) or until the retry limit passes (dead). '
    'While a delivery about a lead is pending, later ones about that lead to the same subscription wait (per-lead order). '
    'A claimed delivery is leased by moving next_attempt_at past the lease.';
COMMENT ON COLUMN crm.webhook_deliveries.next_attempt_at IS
    'Pending: when it may be tried (after a backoff, or when the lease of a dispatcher that claimed it runs out).';
-- the dispatcher's claims, in event order; the per-lead order check
CREATE INDEX webhook_deliveries_pending_idx ON crm.webhook_deliveries (event_id) WHERE state = 'pending';
CREATE INDEX webhook_deliveries_lead_order_idx ON crm.webhook_deliveries (subscription_id, lead_id, event_id)
    WHERE state = 'pending';

CREATE TABLE crm.webhook_attempts (
    attempt_id      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    subscription_id uuid NOT NULL,
    event_id        bigint NOT NULL,
    attempt         integer NOT NULL CONSTRAINT webhook_attempts_attempt_positive CHECK (attempt > 0),
    attempted_at    timestamptz NOT NULL,
    outcome         text NOT NULL CONSTRAINT webhook_attempts_outcome_known
                        CHECK (outcome IN ('delivered', 'failed', 'gone', 'dead')),
    status_code     integer CONSTRAINT webhook_attempts_status_code_range CHECK (status_code BETWEEN 100 AND 599),
    duration_ms     numeric(10, 1) CONSTRAINT webhook_attempts_duration_nonnegative CHECK (duration_ms >= 0),
    error           text CONSTRAINT webhook_attempts_error_length CHECK (length(error) <= 500),
    next_attempt_at timestamptz,
    FOREIGN KEY (subscription_id, event_id) REFERENCES crm.webhook_deliveries (subscription_id, event_id)
        ON DELETE CASCADE
);
COMMENT ON TABLE crm.webhook_attempts IS
    'Every request the dispatcher sent: its HTTP status (none when the connection failed or timed out), duration, '
    'error, and when the delivery is tried next. outcome dead: the last failure, after which the retry limit passed.';
CREATE INDEX webhook_attempts_delivery_idx ON crm.webhook_attempts (subscription_id, event_id, attempt_id);

-- who may manage subscriptions
INSERT INTO crm.api_permissions (action, role, scope) VALUES ('manage_webhooks', 'admin', 'all');

-- the delivery policy, as data
INSERT INTO crm.settings (setting_key, value, description, shape) VALUES
    ('events_enabled', 'true',
     'Whether changes write events to crm.outbox_events. Off only to measure what the outbox costs (make bench): '
     'while it is off, no subscriber hears of anything.', '"boolean"'),
    ('event_retention', '"30 days"',
     'The sweep deletes events (and their finished deliveries and attempts) older than this.', '"interval"'),
    ('webhook_retry_limit', '"24 hours"',
     'A delivery that still fails this long after its event is dead (listed, not retried; redeliver by hand).',
     '"interval"'),
    ('webhook_retry_base', '"5 seconds"',
     'The first retry''s delay; each further one doubles it (capped by webhook_retry_cap), with +-20 % jitter.',
     '"interval"'),
    ('webhook_retry_cap', '"1 hour"', 'The longest delay between two attempts of one delivery.', '"interval"'),
    ('webhook_lease', '"60 seconds"',
     'How long a dispatcher holds the deliveries it claimed; if it dies, another takes them over after this.',
     '"interval"'),
    ('webhook_allow_private_targets', 'false',
     'Whether subscriptions may point at loopback, link-local or private addresses (refused by default, against '
     'SSRF; a development machine''s receiver needs true).', '"boolean"');
