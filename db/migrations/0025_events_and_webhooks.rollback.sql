-- 0025 rolled back: the event triggers and webhook functions go with their tables (db/apply.py drops what the
-- functions files define before a rollback), then the tables, the type, the permission and the settings.
DELETE FROM crm.settings WHERE setting_key IN ('events_enabled', 'event_retention', 'webhook_retry_limit',
    'webhook_retry_base', 'webhook_retry_cap', 'webhook_lease', 'webhook_allow_private_targets');
DELETE FROM crm.api_permissions WHERE action = 'manage_webhooks';
DROP TABLE crm.webhook_attempts;
DROP TABLE crm.webhook_deliveries;
DROP TYPE crm.delivery_state;
DROP TABLE crm.webhook_subscriptions;
DROP TABLE crm.outbox_events;
DROP TABLE crm.event_topics;
