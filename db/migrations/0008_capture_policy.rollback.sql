ALTER TABLE crm.leads DROP COLUMN IF EXISTS unmatched_input;
DELETE FROM crm.settings WHERE setting_key = 'assignment_weights';
UPDATE crm.settings
   SET value = '{"min_score": 80, "within": "1 hour", "priority": "high", "task_type": "call"}',
       description = 'Hot leads: first follow-up within the hour, even outside business hours.'
 WHERE setting_key = 'sla_hot_lead';
UPDATE crm.settings
   SET value = '{"min_score": 50, "within": "4 hours", "priority": "medium", "task_type": "call"}',
       description = 'Warm leads: first follow-up within 4 business hours.'
 WHERE setting_key = 'sla_warm_lead';
UPDATE crm.settings
   SET value = '{"min_score": 0, "within": "24 hours", "priority": "low", "task_type": "whatsapp"}',
       description = 'Cold leads: first follow-up within one business day.'
 WHERE setting_key = 'sla_cold_lead';
