DROP TABLE IF EXISTS crm.idempotency_keys CASCADE;
DROP TABLE IF EXISTS crm.capture_dead_letters CASCADE;
DROP TABLE IF EXISTS crm.agent_performance_metrics CASCADE;
