-- Delivery health per webhook subscription, for operators in psql and BI tools (thinkrealty_reporting).

-- reporting.webhook_health: one row per subscription: whether it is active (and why not), what waits, how the
-- last 24 hours went (deliveries, failed attempts, success rate of attempts, latency from the event to the 2xx),
-- what is dead, and when it last succeeded and failed. No secrets.
CREATE OR REPLACE VIEW reporting.webhook_health AS
SELECT s.subscription_id AS webhook_id,
       s.url,
       s.topics,
       s.agent_id,
       s.is_active,
       s.disabled_reason,
       p.pending,
       p.oldest_pending_seconds,
       coalesce(r.delivered_24h, 0) AS delivered_24h,
       coalesce(a.failed_attempts_24h, 0) AS failed_attempts_24h,
       CASE WHEN a.attempts_24h > 0 THEN round(100.0 * a.successful_24h / a.attempts_24h, 1) END
           AS attempt_success_rate_24h,
       r.latency_p50_ms_24h,
       r.latency_p95_ms_24h,
       (SELECT count(*) FROM crm.webhook_deliveries AS d
         WHERE d.subscription_id = s.subscription_id AND d.state = 'dead') AS dead,
       a.last_success_at,
       a.last_failure_at
  FROM crm.webhook_subscriptions AS s
  CROSS JOIN LATERAL (
      SELECT count(*) AS pending,
             round(extract(epoch FROM now() - min(e.occurred_at)))::bigint AS oldest_pending_seconds
        FROM crm.webhook_deliveries AS d JOIN crm.outbox_events AS e ON e.event_id = d.event_id
       WHERE d.subscription_id = s.subscription_id AND d.state = 'pending') AS p
  LEFT JOIN LATERAL (
      SELECT count(*) AS delivered_24h,
             round(1000 * extract(epoch FROM percentile_cont(0.5) WITHIN GROUP (ORDER BY d.delivered_at - e.occurred_at)))
                 AS latency_p50_ms_24h,
             round(1000 * extract(epoch FROM percentile_cont(0.95) WITHIN GROUP (ORDER BY d.delivered_at - e.occurred_at)))
                 AS latency_p95_ms_24h
        FROM crm.webhook_deliveries AS d JOIN crm.outbox_events AS e ON e.event_id = d.event_id
       WHERE d.subscription_id = s.subscription_id AND d.state = 'delivered'
         AND d.delivered_at > now() - interval '24 hours') AS r ON true
  LEFT JOIN LATERAL (
      SELECT count(*) FILTER (WHERE t.attempted_at > now() - interval '24 hours') AS attempts_24h,
             count(*) FILTER (WHERE t.attempted_at > now() - interval '24 hours' AND t.outcome = 'delivered')
                 AS successful_24h,
             count(*) FILTER (WHERE t.attempted_at > now() - interval '24 hours' AND t.outcome <> 'delivered')
                 AS failed_attempts_24h,
             max(t.attempted_at) FILTER (WHERE t.outcome = 'delivered') AS last_success_at,
             max(t.attempted_at) FILTER (WHERE t.outcome <> 'delivered') AS last_failure_at
        FROM crm.webhook_attempts AS t
       WHERE t.subscription_id = s.subscription_id) AS a ON true;
COMMENT ON VIEW reporting.webhook_health IS
    'Per webhook subscription: active or why not, pending deliveries and the oldest one''s age, the last 24 h '
    '(delivered, failed attempts, attempt success rate %, p50/p95 ms from event to 2xx), dead deliveries, last '
    'success and failure. No secrets.';
