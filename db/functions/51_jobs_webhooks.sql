-- The webhook dispatcher's side of the database (schema jobs, for the job login thinkrealty_jobs): claim a batch of
-- due deliveries under a lease (FOR UPDATE SKIP LOCKED, so several processes share the queue and none sends what
-- another holds), record what each request answered (retry with backoff, dead after the retry limit, a 410
-- disables the subscription), and say when the next delivery is due. api/dispatcher.py is the loop around them.

-- crm.event_envelope(event): the JSON body a subscriber receives for an event (docs/events.md), keys in order.
CREATE OR REPLACE FUNCTION crm.event_envelope(p_event crm.outbox_events)
RETURNS json
LANGUAGE plpgsql
STABLE
SET search_path = ''
AS $$
BEGIN
    RETURN pg_catalog.json_build_object(
        'event_id', p_event.event_id, 'topic', p_event.topic, 'version', p_event.version,
        'occurred_at', p_event.occurred_at, 'lead_id', p_event.lead_id, 'agent_id', p_event.agent_id,
        'actor', p_event.actor, 'data', p_event.data);
END
$$;
COMMENT ON FUNCTION crm.event_envelope(crm.outbox_events) IS
    'The body POSTed to a subscriber: event_id, topic, version, occurred_at, lead_id, agent_id, actor, data.';

-- crm.webhook_backoff(attempts): the delay before the next try after the attempts-th failure:
-- webhook_retry_base x 2^(attempts-1), at most webhook_retry_cap, with +-20 % jitter (so that receivers coming back
-- are not hit by every retry at once).
CREATE OR REPLACE FUNCTION crm.webhook_backoff(p_attempts integer)
RETURNS interval
LANGUAGE plpgsql
VOLATILE
SET search_path = ''
AS $$
BEGIN
    RETURN least(crm.setting_interval('webhook_retry_base') * power(2, least(greatest(p_attempts, 1) - 1, 30)),
                 crm.setting_interval('webhook_retry_cap')) * (0.8 + 0.4 * random());
END
$$;
COMMENT ON FUNCTION crm.webhook_backoff(integer) IS
    'Delay after the n-th failed attempt: webhook_retry_base x 2^(n-1), capped at webhook_retry_cap, +-20 % jitter.';

-- jobs.claim_deliveries(limit): up to p_limit due deliveries of active subscriptions, in event order, leased for
-- webhook_lease (their next_attempt_at moves past it: a dispatcher that dies lets them fall due again). A delivery
-- about a lead is claimed only when no earlier one about that lead to the same subscription is pending outside
-- this claim (per-lead order: the dispatcher sends a claim's deliveries of one lead one after the other).
DROP FUNCTION IF EXISTS jobs.claim_deliveries(integer);
CREATE FUNCTION jobs.claim_deliveries(p_limit integer DEFAULT 100)
RETURNS TABLE (subscription_id uuid, event_id bigint, lead_id uuid, url text, secret text, attempt integer,
               topic text, body text, occurred_at timestamptz)
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = ''
AS $$
DECLARE
    v_lease interval := crm.setting_interval('webhook_lease');
BEGIN
    RETURN QUERY
    WITH candidates AS MATERIALIZED (
        -- due, and not behind an earlier delivery of its lead that waits (a backoff or a lease): such blocked ones
        -- never fill the window, so one failing receiver holds back only its own leads' later deliveries
        SELECT d.subscription_id, d.event_id, d.lead_id
          FROM crm.webhook_deliveries AS d
          JOIN crm.webhook_subscriptions AS s ON s.subscription_id = d.subscription_id
         WHERE d.state = 'pending' AND d.next_attempt_at <= now() AND s.is_active
           AND (d.lead_id IS NULL OR NOT EXISTS (
                SELECT 1 FROM crm.webhook_deliveries AS w
                 WHERE w.subscription_id = d.subscription_id AND w.lead_id = d.lead_id AND w.state = 'pending'
                   AND w.event_id < d.event_id AND w.next_attempt_at > now()))
         ORDER BY d.event_id
         LIMIT p_limit
           FOR UPDATE OF d SKIP LOCKED),
    claimable AS (
        SELECT c.subscription_id, c.event_id FROM candidates AS c
         WHERE c.lead_id IS NULL OR NOT EXISTS (
               SELECT 1 FROM crm.webhook_deliveries AS p
                WHERE p.subscription_id = c.subscription_id AND p.lead_id = c.lead_id AND p.state = 'pending'
                  AND p.event_id < c.event_id
                  AND NOT EXISTS (SELECT 1 FROM candidates AS o
                                   WHERE o.subscription_id = p.subscription_id AND o.event_id = p.event_id))),
    leased AS (
        UPDATE crm.webhook_deliveries AS d SET next_attempt_at = now() + v_lease
          FROM claimable AS c
         WHERE d.subscription_id = c.subscription_id AND d.event_id = c.event_id
        RETURNING d.subscription_id, d.event_id, d.lead_id, d.attempts)
    SELECT l.subscription_id, l.event_id, l.lead_id, s.url, s.secret, l.attempts + 1, e.topic,
           crm.event_envelope(e)::text, e.occurred_at
      FROM leased AS l
      JOIN crm.webhook_subscriptions AS s ON s.subscription_id = l.subscription_id
      JOIN crm.outbox_events AS e ON e.event_id = l.event_id
     ORDER BY l.event_id;
END
$$;
COMMENT ON FUNCTION jobs.claim_deliveries(integer) IS
    'The dispatcher''s claim: up to p_limit due deliveries (event order, per-lead order kept), leased for '
    'webhook_lease, with the subscription''s url and secret and the body to sign and send. SKIP LOCKED: several '
    'dispatchers never claim the same delivery. SECURITY DEFINER: reads the secrets for the job login.';

-- jobs.record_deliveries(results): what each claimed delivery's request answered. p_results is a JSON array of
-- {subscription_id, event_id, outcome, status_code, duration_ms, error, attempted_at}, outcome one of delivered
-- (2xx), failed (another status, a timeout, a refused connection), gone (410: the subscription is disabled, the
-- delivery waits for it to be enabled again) and skipped (not sent: an earlier delivery of its lead failed in the
-- same batch; the lease is released, no attempt counted). A failure is retried after crm.webhook_backoff, or is dead
-- when that would pass webhook_retry_limit after the event. Only pending deliveries change, and only theirs are
-- logged: one delivered meanwhile by another dispatcher (after a lease ran out) stays delivered, one whose
-- subscription was deleted meanwhile is gone. Returns the count of each outcome.
CREATE OR REPLACE FUNCTION jobs.record_deliveries(p_results jsonb)
RETURNS jsonb
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = ''
AS $$
DECLARE
    v_limit  interval := crm.setting_interval('webhook_retry_limit');
    v_counts jsonb;
BEGIN
    WITH r AS (
        SELECT * FROM pg_catalog.jsonb_to_recordset(p_results) AS x(
            subscription_id uuid, event_id bigint, outcome text, status_code integer, duration_ms numeric,
            error text, attempted_at timestamptz)),
    plan AS MATERIALIZED (
        SELECT r.*, d.attempts + 1 AS attempt,
               CASE WHEN r.outcome = 'failed' THEN now() + crm.webhook_backoff(d.attempts + 1) END AS retry_at,
               e.occurred_at
          FROM r
          JOIN crm.webhook_deliveries AS d ON d.subscription_id = r.subscription_id AND d.event_id = r.event_id
          JOIN crm.outbox_events AS e ON e.event_id = r.event_id),
    decided AS MATERIALIZED (
        SELECT p.*, CASE WHEN p.outcome = 'delivered' THEN 'delivered'
                         WHEN p.outcome = 'failed' AND p.retry_at > p.occurred_at + v_limit THEN 'dead'
                         ELSE 'pending' END::crm.delivery_state AS new_state
          FROM plan AS p),
    updated AS (
        UPDATE crm.webhook_deliveries AS d SET
            state = x.new_state,
            attempts = d.attempts + CASE WHEN x.outcome = 'skipped' THEN 0 ELSE 1 END,
            next_attempt_at = CASE WHEN x.outcome = 'failed' AND x.new_state = 'pending' THEN x.retry_at
                                   ELSE now() END,
            delivered_at = CASE WHEN x.new_state = 'delivered' THEN now() END,
            dead_at = CASE WHEN x.new_state = 'dead' THEN now() END
          FROM decided AS x
         WHERE d.subscription_id = x.subscription_id AND d.event_id = x.event_id AND d.state = 'pending'
        RETURNING d.subscription_id, d.event_id),
    attempts AS (
        INSERT INTO crm.webhook_attempts (subscription_id, event_id, attempt, attempted_at, outcome, status_code,
                                          duration_ms, error, next_attempt_at)
        SELECT x.subscription_id, x.event_id, x.attempt, coalesce(x.attempted_at, now()),
               CASE WHEN x.new_state = 'dead' THEN 'dead' ELSE x.outcome END,
               CASE WHEN x.status_code BETWEEN 100 AND 599 THEN x.status_code END, greatest(x.duration_ms, 0),
               left(x.error, 500), CASE WHEN x.new_state = 'pending' AND x.outcome = 'failed' THEN x.retry_at END
          FROM decided AS x
          JOIN updated AS u ON u.subscription_id = x.subscription_id AND u.event_id = x.event_id
         WHERE x.outcome <> 'skipped'),
    gone AS (
        UPDATE crm.webhook_subscriptions AS s SET is_active = false, disabled_at = now(), updated_at = now(),
               disabled_reason = 'the receiver answered 410 Gone'
         WHERE s.is_active AND s.subscription_id IN (SELECT x.subscription_id FROM decided AS x WHERE x.outcome = 'gone'))
    SELECT pg_catalog.jsonb_build_object(
               'delivered', count(*) FILTER (WHERE x.new_state = 'delivered'),
               'failed', count(*) FILTER (WHERE x.outcome = 'failed' AND x.new_state = 'pending'),
               'dead', count(*) FILTER (WHERE x.new_state = 'dead'),
               'gone', count(*) FILTER (WHERE x.outcome = 'gone'),
               'skipped', count(*) FILTER (WHERE x.outcome = 'skipped'))
      INTO v_counts FROM decided AS x;
    RETURN v_counts;
END
$$;
COMMENT ON FUNCTION jobs.record_deliveries(jsonb) IS
    'The dispatcher''s results: delivered, failed (retried after crm.webhook_backoff, dead past webhook_retry_limit), '
    'gone (410: subscription disabled), skipped (lease released). Logs every attempt in crm.webhook_attempts. '
    'SECURITY DEFINER: writes the queue for the job login.';

-- jobs.next_delivery_at(): when the earliest pending delivery of an active subscription that is not behind an
-- earlier one of its lead falls due (NULL: none), so an idle dispatcher sleeps until then (or a NOTIFY).
CREATE OR REPLACE FUNCTION jobs.next_delivery_at()
RETURNS timestamptz
LANGUAGE plpgsql
STABLE
SECURITY DEFINER
SET search_path = ''
AS $$
BEGIN
    RETURN (SELECT min(d.next_attempt_at)   -- of the deliveries at the head of their lead's queue
              FROM crm.webhook_deliveries AS d
              JOIN crm.webhook_subscriptions AS s ON s.subscription_id = d.subscription_id
             WHERE d.state = 'pending' AND s.is_active
               AND (d.lead_id IS NULL OR NOT EXISTS (
                    SELECT 1 FROM crm.webhook_deliveries AS w
                     WHERE w.subscription_id = d.subscription_id AND w.lead_id = d.lead_id AND w.state = 'pending'
                       AND w.event_id < d.event_id)));
END
$$;
COMMENT ON FUNCTION jobs.next_delivery_at() IS
    'When the next pending delivery falls due (NULL: nothing pending). SECURITY DEFINER: reads the queue for the job login.';
