-- 0008 capture policy: SLA classes say whether their "within" counts business time, the assignment
-- ranking weights become data, and a lead keeps the input values capture could not map.

UPDATE crm.settings
   SET value = '{"min_score": 80, "within": "1 hour", "business_time": false, "priority": "high", "task_type": "call"}',
       description = 'Hot leads: first follow-up due within the hour of wall-clock time, even outside business hours.'
 WHERE setting_key = 'sla_hot_lead';
UPDATE crm.settings
   SET value = '{"min_score": 50, "within": "4 hours", "business_time": true, "priority": "medium", "task_type": "call"}',
       description = 'Warm leads: first follow-up due within 4 business hours.'
 WHERE setting_key = 'sla_warm_lead';
UPDATE crm.settings
   SET value = '{"min_score": 0, "within": "1 day", "business_time": true, "priority": "low", "task_type": "whatsapp"}',
       description = 'Cold leads: first follow-up due within one business day (same time on the next business day).'
 WHERE setting_key = 'sla_cold_lead';

INSERT INTO crm.settings (setting_key, value, description) VALUES
    ('assignment_weights',
     '{"property_type": 30, "property_type_generalist": 10, "area": 20, "area_generalist": 7, "language": 25, "performance": 15, "workload": 50}',
     'Points of the agent ranking: a matching property type or area, the generalist share when the agent has no '
     'specialisation of that kind, a spoken language match, performance_score/100 x performance, and free capacity share x workload (with 50 slots, each lead an agent holds costs one point). '
     'Ties go to the least recently assigned agent (round-robin).');

ALTER TABLE crm.leads
    ADD COLUMN unmatched_input jsonb NOT NULL DEFAULT '{}'
        CONSTRAINT leads_unmatched_input_object CHECK (jsonb_typeof(unmatched_input) = 'object');
COMMENT ON COLUMN crm.leads.unmatched_input IS
    'Values the capture received but could not map (an unknown nationality, language, area, listing or referrer), kept verbatim '
    'so nothing the portal sent is lost; the capture response listed them as warnings.';
