DO $$ BEGIN EXECUTE format('ALTER DATABASE %I RESET jit', current_database()); END $$;
DELETE FROM crm.settings WHERE setting_key = 'analytics_refresh_interval';
DROP TABLE IF EXISTS crm.analytics_snapshot_log CASCADE;
DROP MATERIALIZED VIEW IF EXISTS reporting.lead_facts_snapshot CASCADE;
