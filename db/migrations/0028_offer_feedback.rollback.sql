-- 0028 rolled back: the performance score of two parts (shipped weights when they were the shipped ones), the offer
-- clock columns, and sms (its activities and tasks become whatsapp ones, then both types are rebuilt without it; the
-- function layer, whose triggers keep activities append-only, is already dropped).
UPDATE crm.settings
   SET shape = shape - 'accept_weight' - 'offer_response_weight',
       value = CASE WHEN value @> '{"conversion_weight": 0.45, "response_weight": 0.25, "accept_weight": 0.15, "offer_response_weight": 0.15}'
                    THEN value - 'accept_weight' - 'offer_response_weight' || '{"conversion_weight": 0.6, "response_weight": 0.4}'
                    ELSE value - 'accept_weight' - 'offer_response_weight' END,
       description = 'An agent''s performance score (0-100, used by the ranking): conversion_weight x the conversion rate '
                     'over the window + response_weight x a response score (100 for an immediate first contact, '
                     'falling linearly to 0 at response_zero_after); a part with no data counts as neutral.'
 WHERE setting_key = 'performance_score';

ALTER TABLE crm.lead_assignments DROP COLUMN IF EXISTS offer_response_seconds,
    DROP CONSTRAINT IF EXISTS lead_assignments_offer_clock, DROP COLUMN IF EXISTS clock_started_at;

ALTER TABLE crm.lead_activities DROP CONSTRAINT lead_activities_agent_interaction;
UPDATE crm.lead_activities SET activity_type = 'whatsapp' WHERE activity_type::text = 'sms';
ALTER TYPE crm.activity_type RENAME TO activity_type_0028;
CREATE TYPE crm.activity_type AS ENUM (
    'call', 'email', 'whatsapp', 'viewing', 'meeting', 'offer_made',
    'note', 'duplicate_inquiry', 'assignment', 'escalation', 'score_change'
);
COMMENT ON TYPE crm.activity_type IS
    'call..offer_made are agent interactions (the brief''s list); the rest are system events written by the database.';
ALTER TABLE crm.lead_activities ALTER COLUMN activity_type TYPE crm.activity_type
    USING activity_type::text::crm.activity_type;
DROP TYPE crm.activity_type_0028;
ALTER TABLE crm.lead_activities ADD CONSTRAINT lead_activities_agent_interaction CHECK (
    agent_id IS NOT NULL OR activity_type NOT IN ('call', 'email', 'whatsapp', 'viewing', 'meeting', 'offer_made'));

UPDATE crm.follow_up_tasks SET task_type = 'whatsapp' WHERE task_type::text = 'sms';
ALTER TYPE crm.task_type RENAME TO task_type_0028;
CREATE TYPE crm.task_type AS ENUM ('call', 'email', 'whatsapp', 'viewing', 'meeting');
ALTER TABLE crm.follow_up_tasks ALTER COLUMN task_type TYPE crm.task_type USING task_type::text::crm.task_type;
DROP TYPE crm.task_type_0028;
