DROP INDEX IF EXISTS crm.lead_conversion_history_agent_closed_idx;
