-- Webhook subscriptions over HTTP (admins): POST/GET /api/v1/webhooks, GET/PATCH/DELETE /api/v1/webhooks/{id},
-- the delivery log GET /api/v1/webhooks/{id}/deliveries, a redelivery, and the topics. What a subscription may
-- hold is checked by the table's trigger (webhook_subscriptions_20_check), for psql writers too.

-- crm.is_private_address(address): loopback, private (RFC 1918, unique local), link-local, carrier-grade NAT,
-- unspecified, IPv4-compatible or IPv4-mapped addresses, NAT64 and 6to4 (which embed any IPv4 address): the targets a
-- webhook may not reach unless webhook_allow_private_targets.
CREATE OR REPLACE FUNCTION crm.is_private_address(p_address inet)
RETURNS boolean
LANGUAGE sql
IMMUTABLE
SET search_path = ''
AS $$
    SELECT p_address <<= ANY (ARRAY['127.0.0.0/8', '10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', '169.254.0.0/16',
                                    '100.64.0.0/10', '0.0.0.0/8', '::/96', 'fc00::/7', 'fe80::/10',
                                    '::ffff:0:0/96', '64:ff9b::/96', '2002::/16']::inet[])
$$;
COMMENT ON FUNCTION crm.is_private_address(inet) IS
    'True for loopback, RFC 1918 / unique-local, link-local, CGNAT, unspecified, IPv4-compatible and IPv4-mapped '
    'addresses, and the NAT64 and 6to4 prefixes (which can embed any of them).';

-- crm.webhook_target_refusal(url, addresses): why a subscription may not point at url (NULL: it may). The host is
-- an address literal (in canonical dotted form only), "localhost", or a name whose addresses (resolved by the API:
-- p_addresses; NULL for a writer who resolved nothing, as in psql) are checked. Nothing is refused while webhook_allow_private_targets is true.
CREATE OR REPLACE FUNCTION crm.webhook_target_refusal(p_url text, p_addresses inet[])
RETURNS text
LANGUAGE plpgsql
STABLE
SET search_path = ''
AS $$
DECLARE
    v_host    text := lower(substring(p_url FROM '^https?://(\[[^\]]+\]|[^:/?#]+)'));
    v_literal inet;
BEGIN
    IF (crm.setting('webhook_allow_private_targets'))::boolean THEN
        RETURN NULL;
    END IF;
    IF v_host = 'localhost' OR v_host LIKE '%.localhost' THEN
        RETURN 'the host is this machine';
    END IF;
    IF v_host ~ '^[0-9.]+$' AND v_host !~ '^(0|[1-9][0-9]{0,2})(\.(0|[1-9][0-9]{0,2})){3}$' THEN
        RETURN 'the host is not a canonical address';   -- 0177.0.0.1, 127.1, 2130706433: read otherwise by resolvers
    END IF;
    IF v_host ~ '^\[.*\]$' OR v_host ~ '^[0-9.]+$' THEN
        BEGIN
            v_literal := btrim(v_host, '[]')::inet;
        EXCEPTION WHEN invalid_text_representation THEN
            RETURN 'the host is not a valid address';
        END;
        IF crm.is_private_address(v_literal) THEN
            RETURN 'the host is a private or local address';
        END IF;
    END IF;
    IF p_addresses IS NOT NULL AND NOT (v_host ~ '^\[.*\]$' OR v_host ~ '^[0-9.]+$') THEN
        IF cardinality(p_addresses) = 0 THEN
            RETURN 'the host name does not resolve';
        END IF;
        IF EXISTS (SELECT 1 FROM pg_catalog.unnest(p_addresses) AS a WHERE crm.is_private_address(a)) THEN
            RETURN 'the host name resolves to a private or local address';
        END IF;
    END IF;
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION crm.webhook_target_refusal(text, inet[]) IS
    'Why a webhook may not target url (loopback, private, link-local: SSRF), NULL when it may; p_addresses are the '
    'host name''s addresses as the API resolved them. Nothing is refused while webhook_allow_private_targets is true.';

-- BEFORE INSERT OR UPDATE ON crm.webhook_subscriptions: topics known (or "*": all) and without repeats, the target
-- allowed (address literals and localhost; the API also checks what a name resolves to), updated_at stamped.
-- Errors: PT422 unknown_topic (DETAIL lists them), PT422 webhook_url_refused.
CREATE OR REPLACE FUNCTION crm.webhook_subscriptions_check()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = ''
AS $$
DECLARE
    v_unknown text[];
    v_refusal text;
BEGIN
    NEW.topics := ARRAY(SELECT DISTINCT t FROM pg_catalog.unnest(NEW.topics) AS t ORDER BY t);
    SELECT pg_catalog.array_agg(t) INTO v_unknown FROM pg_catalog.unnest(NEW.topics) AS t
     WHERE t <> '*' AND NOT EXISTS (SELECT 1 FROM crm.event_topics AS e WHERE e.topic = t);
    IF v_unknown IS NOT NULL THEN
        RAISE EXCEPTION 'unknown topic(s): %', pg_catalog.array_to_string(v_unknown, ', ')
            USING ERRCODE = 'PT422', CONSTRAINT = 'unknown_topic',
                  DETAIL = pg_catalog.json_build_object('field', 'topics', 'topics', v_unknown)::text,
                  HINT = 'GET /api/v1/webhooks/topics lists them.';
    END IF;
    IF TG_OP = 'INSERT' OR NEW.url IS DISTINCT FROM OLD.url THEN
        v_refusal := crm.webhook_target_refusal(NEW.url, NULL);
        IF v_refusal IS NOT NULL THEN
            RAISE EXCEPTION 'webhook url refused: %', v_refusal
                USING ERRCODE = 'PT422', CONSTRAINT = 'webhook_url_refused',
                      DETAIL = pg_catalog.json_build_object('field', 'url', 'reason', v_refusal)::text;
        END IF;
    END IF;
    IF TG_OP = 'UPDATE' THEN
        NEW.updated_at := now();
        IF NEW.is_active AND NOT OLD.is_active THEN
            NEW.disabled_at := NULL;
            NEW.disabled_reason := NULL;
        ELSIF OLD.is_active AND NOT NEW.is_active AND NEW.disabled_at IS NULL THEN
            NEW.disabled_at := now();
            NEW.disabled_reason := coalesce(NEW.disabled_reason, 'disabled by ' || crm.actor());
        END IF;
    END IF;
    RETURN NEW;
END
$$;
COMMENT ON FUNCTION crm.webhook_subscriptions_check() IS
    'Trigger: a subscription''s topics are known (or "*") and kept sorted without repeats, its url''s host is not a '
    'private address literal or localhost (unless allowed), updated_at and the disabled stamp follow is_active. '
    'Errors: PT422 unknown_topic, PT422 webhook_url_refused.';

CREATE OR REPLACE TRIGGER webhook_subscriptions_20_check BEFORE INSERT OR UPDATE ON crm.webhook_subscriptions
    FOR EACH ROW EXECUTE FUNCTION crm.webhook_subscriptions_check();

-- crm.webhook_resource(subscription): one subscription as the API shows it (never its secret: its last 4 characters).
CREATE OR REPLACE FUNCTION crm.webhook_resource(p_subscription_id uuid, p_with_secret boolean DEFAULT false)
RETURNS json
LANGUAGE plpgsql
STABLE
SET search_path = ''
AS $$
BEGIN
    RETURN (SELECT pg_catalog.json_build_object(
                'webhook_id', s.subscription_id, 'url', s.url, 'topics', pg_catalog.to_json(s.topics),
                'agent_id', s.agent_id, 'description', s.description, 'is_active', s.is_active,
                'disabled_at', s.disabled_at, 'disabled_reason', s.disabled_reason,
                'secret', CASE WHEN p_with_secret THEN s.secret END,
                'secret_hint', '...' || right(s.secret, 4),
                'pending_deliveries', (SELECT count(*) FROM crm.webhook_deliveries AS d
                                        WHERE d.subscription_id = s.subscription_id AND d.state = 'pending'),
                'created_at', s.created_at, 'created_by', s.created_by, 'updated_at', s.updated_at)
              FROM crm.webhook_subscriptions AS s WHERE s.subscription_id = p_subscription_id);
END
$$;
COMMENT ON FUNCTION crm.webhook_resource(uuid, boolean) IS
    'One webhook subscription as the API shows it; the secret only when p_with_secret (creation, rotation).';

-- crm.new_webhook_secret(): a signing secret, "whsec_" and 64 hex characters (SHA-256 of two random UUIDs: 244
-- random bits from the server's strong random source).
CREATE OR REPLACE FUNCTION crm.new_webhook_secret()
RETURNS text
LANGUAGE plpgsql
VOLATILE
SET search_path = ''
AS $$
BEGIN
    RETURN 'whsec_' || pg_catalog.encode(pg_catalog.sha256(pg_catalog.convert_to(
        pg_catalog.gen_random_uuid()::text || pg_catalog.gen_random_uuid()::text, 'UTF8')), 'hex');
END
$$;
COMMENT ON FUNCTION crm.new_webhook_secret() IS 'A new webhook signing secret: whsec_ and 64 hex characters.';

-- crm.webhook_not_found(id): PT404 webhook_not_found.
CREATE OR REPLACE FUNCTION crm.raise_webhook_not_found(p_subscription_id uuid)
RETURNS void
LANGUAGE plpgsql
SET search_path = ''
AS $$
BEGIN
    RAISE EXCEPTION 'webhook % not found', p_subscription_id
        USING ERRCODE = 'PT404', CONSTRAINT = 'webhook_not_found',
              DETAIL = pg_catalog.json_build_object('webhook_id', p_subscription_id)::text;
END
$$;
COMMENT ON FUNCTION crm.raise_webhook_not_found(uuid) IS 'Raises PT404 webhook_not_found.';

-- crm.check_webhook_input(input, addresses): what the table cannot check itself: the agent filter names an agent
-- (PT422 webhook_agent_unknown) and the url's host name resolves to public addresses only (PT422
-- webhook_url_refused; p_addresses as the API resolved them).
CREATE OR REPLACE FUNCTION crm.check_webhook_input(p_input jsonb, p_addresses inet[])
RETURNS void
LANGUAGE plpgsql
STABLE
SET search_path = ''
AS $$
DECLARE
    v_refusal text;
BEGIN
    IF p_input ->> 'agent_id' IS NOT NULL
       AND NOT EXISTS (SELECT 1 FROM crm.agents AS g WHERE g.agent_id = (p_input ->> 'agent_id')::uuid) THEN
        RAISE EXCEPTION 'agent % does not exist', p_input ->> 'agent_id'
            USING ERRCODE = 'PT422', CONSTRAINT = 'webhook_agent_unknown',
                  DETAIL = pg_catalog.json_build_object('field', 'agent_id', 'agent_id', p_input ->> 'agent_id')::text;
    END IF;
    IF p_input ? 'url' THEN
        v_refusal := crm.webhook_target_refusal(p_input ->> 'url', p_addresses);
        IF v_refusal IS NOT NULL THEN
            RAISE EXCEPTION 'webhook url refused: %', v_refusal
                USING ERRCODE = 'PT422', CONSTRAINT = 'webhook_url_refused',
                      DETAIL = pg_catalog.json_build_object('field', 'url', 'reason', v_refusal)::text;
        END IF;
    END IF;
END
$$;
COMMENT ON FUNCTION crm.check_webhook_input(jsonb, inet[]) IS
    'A webhook body''s agent exists and its url''s resolved addresses are allowed. Errors: PT422 webhook_agent_unknown, '
    'PT422 webhook_url_refused.';

-- api.create_webhook(input, addresses, actor): POST /api/v1/webhooks. input: url, topics, description, agent_id,
-- is_active. Returns the subscription with its secret (shown this once). Admins.
-- Errors: crm.check_webhook_input's, the trigger's (unknown_topic, webhook_url_refused), the table's CHECKs (422);
-- crm.authorize's.
CREATE OR REPLACE FUNCTION api.create_webhook(p_input jsonb, p_addresses inet[], p_actor text)
RETURNS json
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = ''
AS $$
DECLARE
    v_id uuid;
BEGIN
    PERFORM crm.authorize('manage_webhooks');
    PERFORM crm.set_actor(p_actor);
    PERFORM crm.check_webhook_input(p_input, p_addresses);
    INSERT INTO crm.webhook_subscriptions (url, topics, agent_id, description, secret, is_active, created_by)
    VALUES (p_input ->> 'url', ARRAY(SELECT pg_catalog.jsonb_array_elements_text(p_input -> 'topics')),
            (p_input ->> 'agent_id')::uuid, p_input ->> 'description', crm.new_webhook_secret(),
            coalesce((p_input ->> 'is_active')::boolean, true), crm.actor())
    RETURNING subscription_id INTO v_id;
    RETURN crm.webhook_resource(v_id, true);
END
$$;
COMMENT ON FUNCTION api.create_webhook(jsonb, inet[], text) IS
    'POST /api/v1/webhooks: a new subscription, answered with its signing secret (the only time it is shown). Admins. '
    'Errors: PT422 unknown_topic, webhook_url_refused, webhook_agent_unknown, webhook_subscriptions_* CHECKs; '
    'crm.authorize''s. SECURITY DEFINER: writes the subscriptions, which no login may.';

-- api.webhooks(): every subscription, oldest first (a brokerage has a handful). Admins.
CREATE OR REPLACE FUNCTION api.webhooks()
RETURNS json
LANGUAGE plpgsql
STABLE
SECURITY DEFINER
SET search_path = ''
AS $$
BEGIN
    PERFORM crm.authorize('manage_webhooks');
    RETURN pg_catalog.json_build_object('items', (
        SELECT coalesce(pg_catalog.json_agg(crm.webhook_resource(s.subscription_id)
                                            ORDER BY s.created_at, s.subscription_id), '[]'::json)
          FROM crm.webhook_subscriptions AS s));
END
$$;
COMMENT ON FUNCTION api.webhooks() IS
    'GET /api/v1/webhooks: every subscription (no secrets). Admins. Errors: crm.authorize''s. SECURITY DEFINER: reads '
    'the subscriptions.';

-- api.get_webhook(id). Admins. Errors: PT404 webhook_not_found; crm.authorize's.
CREATE OR REPLACE FUNCTION api.get_webhook(p_subscription_id uuid)
RETURNS json
LANGUAGE plpgsql
STABLE
SECURITY DEFINER
SET search_path = ''
AS $$
DECLARE
    v_body json;
BEGIN
    PERFORM crm.authorize('manage_webhooks');
    v_body := crm.webhook_resource(p_subscription_id);
    IF v_body IS NULL THEN
        PERFORM crm.raise_webhook_not_found(p_subscription_id);
    END IF;
    RETURN v_body;
END
$$;
COMMENT ON FUNCTION api.get_webhook(uuid) IS
    'GET /api/v1/webhooks/{id}. Admins. Errors: PT404 webhook_not_found; crm.authorize''s. SECURITY DEFINER: reads '
    'the subscriptions.';

-- api.patch_webhook(id, input, addresses, actor): PATCH /api/v1/webhooks/{id}: the fields given (url, topics,
-- description, agent_id (null: every agent), is_active; rotate_secret: a new secret, answered this once).
-- Re-enabling a subscription a 410 disabled resumes its pending deliveries. Admins.
-- Errors: PT404 webhook_not_found; as api.create_webhook.
CREATE OR REPLACE FUNCTION api.patch_webhook(p_subscription_id uuid, p_input jsonb, p_addresses inet[], p_actor text)
RETURNS json
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = ''
AS $$
DECLARE
    v_rotate boolean := coalesce((p_input ->> 'rotate_secret')::boolean, false);
BEGIN
    PERFORM crm.authorize('manage_webhooks');
    PERFORM crm.set_actor(p_actor);
    PERFORM crm.check_webhook_input(p_input, p_addresses);
    UPDATE crm.webhook_subscriptions AS s SET
        url = coalesce(p_input ->> 'url', s.url),
        topics = CASE WHEN p_input ? 'topics'
                      THEN ARRAY(SELECT pg_catalog.jsonb_array_elements_text(p_input -> 'topics')) ELSE s.topics END,
        agent_id = CASE WHEN p_input ? 'agent_id' THEN (p_input ->> 'agent_id')::uuid ELSE s.agent_id END,
        description = CASE WHEN p_input ? 'description' THEN p_input ->> 'description' ELSE s.description END,
        is_active = coalesce((p_input ->> 'is_active')::boolean, s.is_active),
        secret = CASE WHEN v_rotate THEN crm.new_webhook_secret() ELSE s.secret END
     WHERE s.subscription_id = p_subscription_id;
    IF NOT FOUND THEN
        PERFORM crm.raise_webhook_not_found(p_subscription_id);
    END IF;
    PERFORM pg_catalog.pg_notify('webhook_delivery', '');  -- re-enabled: its pending deliveries are due
    RETURN crm.webhook_resource(p_subscription_id, v_rotate);
END
$$;
COMMENT ON FUNCTION api.patch_webhook(uuid, jsonb, inet[], text) IS
    'PATCH /api/v1/webhooks/{id}: change url, topics, description, agent filter, is_active; rotate_secret answers a '
    'new secret once. Admins. Errors: PT404 webhook_not_found, as api.create_webhook; crm.authorize''s. SECURITY '
    'DEFINER: writes the subscriptions.';

-- api.delete_webhook(id, actor): DELETE /api/v1/webhooks/{id}: the subscription, its pending deliveries and its log
-- go. Admins. Errors: PT404 webhook_not_found; crm.authorize's.
CREATE OR REPLACE FUNCTION api.delete_webhook(p_subscription_id uuid, p_actor text)
RETURNS json
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = ''
AS $$
BEGIN
    PERFORM crm.authorize('manage_webhooks');
    PERFORM crm.set_actor(p_actor);
    DELETE FROM crm.webhook_subscriptions AS s WHERE s.subscription_id = p_subscription_id;
    IF NOT FOUND THEN
        PERFORM crm.raise_webhook_not_found(p_subscription_id);
    END IF;
    RETURN pg_catalog.json_build_object('webhook_id', p_subscription_id, 'deleted', true);
END
$$;
COMMENT ON FUNCTION api.delete_webhook(uuid, text) IS
    'DELETE /api/v1/webhooks/{id}, with its deliveries and attempts. Admins. Errors: PT404 webhook_not_found; '
    'crm.authorize''s. SECURITY DEFINER: writes the subscriptions.';

-- crm.delivery_resource(subscription, event): one delivery with every attempt.
CREATE OR REPLACE FUNCTION crm.delivery_resource(p_subscription_id uuid, p_event_id bigint)
RETURNS json
LANGUAGE plpgsql
STABLE
SET search_path = ''
AS $$
BEGIN
    RETURN (SELECT pg_catalog.json_build_object(
                'delivery_id', d.event_id, 'event_id', d.event_id, 'topic', e.topic, 'lead_id', d.lead_id,
                'occurred_at', e.occurred_at, 'state', d.state, 'attempts', d.attempts,
                'next_attempt_at', CASE WHEN d.state = 'pending' THEN d.next_attempt_at END,
                'delivered_at', d.delivered_at, 'dead_at', d.dead_at,
                'attempt_log', (SELECT coalesce(pg_catalog.json_agg(pg_catalog.json_build_object(
                                    'attempt', a.attempt, 'attempted_at', a.attempted_at, 'outcome', a.outcome,
                                    'status_code', a.status_code, 'duration_ms', a.duration_ms, 'error', a.error,
                                    'next_attempt_at', a.next_attempt_at) ORDER BY a.attempt_id), '[]'::json)
                                  FROM crm.webhook_attempts AS a
                                 WHERE a.subscription_id = d.subscription_id AND a.event_id = d.event_id))
              FROM crm.webhook_deliveries AS d
              JOIN crm.outbox_events AS e ON e.event_id = d.event_id
             WHERE d.subscription_id = p_subscription_id AND d.event_id = p_event_id);
END
$$;
COMMENT ON FUNCTION crm.delivery_resource(uuid, bigint) IS
    'One delivery (its id is its event''s) with its state and every attempt: status, duration, error, next try.';

-- api.webhook_deliveries(id, state, limit, cursor): one page {"items", "next"} of a subscription's deliveries,
-- newest event first, optionally of one state (pending, delivered, dead). Admins.
-- Errors: PT404 webhook_not_found, PT422 invalid_filter, PT422 invalid_cursor; crm.authorize's.
CREATE OR REPLACE FUNCTION api.webhook_deliveries(p_subscription_id uuid, p_state text DEFAULT NULL,
                                                  p_limit integer DEFAULT 50, p_cursor text DEFAULT NULL)
RETURNS json
LANGUAGE plpgsql
STABLE
SECURITY DEFINER
SET search_path = ''
AS $$
DECLARE
    v_cursor jsonb := crm.decode_cursor(p_cursor);
    v_after bigint;
    v_limit integer := crm.page_limit(p_limit);
    v_items json;
    v_last  bigint;
    v_count integer;
BEGIN
    PERFORM crm.authorize('manage_webhooks');
    IF NOT EXISTS (SELECT 1 FROM crm.webhook_subscriptions AS s WHERE s.subscription_id = p_subscription_id) THEN
        PERFORM crm.raise_webhook_not_found(p_subscription_id);
    END IF;
    IF v_cursor IS NOT NULL THEN   -- our cursors hold {"id": <a positive event id>}; anything else is not one
        IF pg_catalog.jsonb_typeof(v_cursor) <> 'object' OR coalesce(v_cursor ->> 'id', '') !~ '^[1-9][0-9]{0,17}$' THEN
            RAISE EXCEPTION 'the cursor is not one this list gave out' USING ERRCODE = 'PT422', CONSTRAINT = 'invalid_cursor';
        END IF;
        v_after := (v_cursor ->> 'id')::bigint;
    END IF;
    WITH page AS (
        SELECT d.event_id FROM crm.webhook_deliveries AS d
         WHERE d.subscription_id = p_subscription_id
           AND (p_state IS NULL OR d.state = p_state::crm.delivery_state)
           AND (v_after IS NULL OR d.event_id < v_after)
         ORDER BY d.event_id DESC
         LIMIT v_limit)
    SELECT coalesce(pg_catalog.json_agg(crm.delivery_resource(p_subscription_id, p.event_id) ORDER BY p.event_id DESC),
                    '[]'::json), min(p.event_id), count(*)
      INTO v_items, v_last, v_count FROM page AS p;
    RETURN pg_catalog.json_build_object('items', v_items, 'next',
        CASE WHEN v_count = v_limit THEN crm.encode_cursor(pg_catalog.jsonb_build_object('id', v_last)) END);
EXCEPTION
    WHEN invalid_text_representation THEN
        RAISE EXCEPTION 'state must be pending, delivered or dead' USING ERRCODE = 'PT422', CONSTRAINT = 'invalid_filter';
END
$$;
COMMENT ON FUNCTION api.webhook_deliveries(uuid, text, integer, text) IS
    'GET /api/v1/webhooks/{id}/deliveries: one keyset page of deliveries, newest first, each with its attempts. '
    'Admins. Errors: PT404 webhook_not_found, PT422 invalid_filter, invalid_cursor; crm.authorize''s. SECURITY '
    'DEFINER: reads the delivery log.';

-- api.redeliver_webhook(id, delivery, actor): POST /api/v1/webhooks/{id}/deliveries/{delivery}/redeliver: the
-- delivery (whatever its state) is pending and due now; the dispatcher sends it again (after any earlier pending
-- delivery of its lead). Admins. Errors: PT404 webhook_not_found, PT404 webhook_delivery_not_found, PT409
-- webhook_inactive (enable the subscription first); crm.authorize's.
CREATE OR REPLACE FUNCTION api.redeliver_webhook(p_subscription_id uuid, p_event_id bigint, p_actor text)
RETURNS json
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = ''
AS $$
DECLARE
    v_active boolean;
BEGIN
    PERFORM crm.authorize('manage_webhooks');
    PERFORM crm.set_actor(p_actor);
    SELECT s.is_active INTO v_active FROM crm.webhook_subscriptions AS s WHERE s.subscription_id = p_subscription_id;
    IF v_active IS NULL THEN
        PERFORM crm.raise_webhook_not_found(p_subscription_id);
    ELSIF NOT v_active THEN
        RAISE EXCEPTION 'webhook % is disabled', p_subscription_id
            USING ERRCODE = 'PT409', CONSTRAINT = 'webhook_inactive',
                  DETAIL = pg_catalog.json_build_object('webhook_id', p_subscription_id)::text,
                  HINT = 'PATCH it with is_active true first.';
    END IF;
    UPDATE crm.webhook_deliveries AS d
       SET state = 'pending', next_attempt_at = now(), delivered_at = NULL, dead_at = NULL
     WHERE d.subscription_id = p_subscription_id AND d.event_id = p_event_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'delivery % of webhook % not found', p_event_id, p_subscription_id
            USING ERRCODE = 'PT404', CONSTRAINT = 'webhook_delivery_not_found',
                  DETAIL = pg_catalog.json_build_object('webhook_id', p_subscription_id, 'delivery_id', p_event_id)::text;
    END IF;
    PERFORM pg_catalog.pg_notify('webhook_delivery', '');
    RETURN crm.delivery_resource(p_subscription_id, p_event_id);
END
$$;
COMMENT ON FUNCTION api.redeliver_webhook(uuid, bigint, text) IS
    'POST /api/v1/webhooks/{id}/deliveries/{delivery_id}/redeliver: the delivery is pending and due now. Admins. '
    'Errors: PT404 webhook_not_found, webhook_delivery_not_found, PT409 webhook_inactive; crm.authorize''s. SECURITY '
    'DEFINER: writes the delivery queue.';

-- api.event_topics(): every topic with its payload version and meaning. Admins.
CREATE OR REPLACE FUNCTION api.event_topics()
RETURNS json
LANGUAGE plpgsql
STABLE
SECURITY DEFINER
SET search_path = ''
AS $$
BEGIN
    PERFORM crm.authorize('manage_webhooks');
    RETURN pg_catalog.json_build_object('items', (
        SELECT pg_catalog.json_agg(pg_catalog.json_build_object('topic', t.topic, 'version', t.version,
                                                                'description', t.description) ORDER BY t.topic)
          FROM crm.event_topics AS t));
END
$$;
COMMENT ON FUNCTION api.event_topics() IS
    'GET /api/v1/webhooks/topics: the topics a subscription may name. Admins. Errors: crm.authorize''s. SECURITY '
    'DEFINER: reads crm.event_topics.';
