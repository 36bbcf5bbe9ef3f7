-- 0028 offers feed the performance score (issue 16): each offer keeps when its response clock started, so its
-- response time (clock start to acceptance) is one generated column; the performance_score setting weighs the
-- agent's accept rate and p90 offer response beside conversion and first contact. An sms is an outbound contact
-- like a call (an activity type and a follow-up task type).
ALTER TYPE crm.activity_type ADD VALUE IF NOT EXISTS 'sms' AFTER 'whatsapp';
ALTER TYPE crm.task_type ADD VALUE IF NOT EXISTS 'sms' AFTER 'whatsapp';
-- (the new value cannot be used in this transaction: the constraint compares the text)
ALTER TABLE crm.lead_activities DROP CONSTRAINT lead_activities_agent_interaction,
    ADD CONSTRAINT lead_activities_agent_interaction CHECK (
        agent_id IS NOT NULL
        OR activity_type::text NOT IN ('call', 'email', 'whatsapp', 'sms', 'viewing', 'meeting', 'offer_made'));

ALTER TABLE crm.lead_assignments ADD COLUMN clock_started_at timestamptz;
-- offers made before: their clock started first_response_sla before their deadline (never before the assignment)
UPDATE crm.lead_assignments
   SET clock_started_at = greatest(assigned_at, respond_by - coalesce(
           (SELECT (s.value #>> '{}')::interval FROM crm.settings AS s WHERE s.setting_key = 'first_response_sla'),
           interval '5 minutes'))
 WHERE respond_by IS NOT NULL;
ALTER TABLE crm.lead_assignments
    ADD CONSTRAINT lead_assignments_offer_clock CHECK (
        (respond_by IS NULL) = (clock_started_at IS NULL) AND clock_started_at >= assigned_at
        AND clock_started_at <= respond_by),
    ADD COLUMN offer_response_seconds integer GENERATED ALWAYS AS (
        CASE WHEN accepted_at IS NOT NULL AND clock_started_at IS NOT NULL
             THEN greatest(0, extract(epoch FROM accepted_at - clock_started_at))::integer END) STORED;
COMMENT ON COLUMN crm.lead_assignments.clock_started_at IS
    'An offer''s response clock start: the assignment, or when the agent''s availability started if later (the night '
    'path). respond_by is this plus first_response_sla. NULL: not an offer.';
COMMENT ON COLUMN crm.lead_assignments.offer_response_seconds IS
    'An accepted offer''s response time: seconds from clock_started_at to accepted_at (0 when accepted before the clock '
    'started); NULL for an offer not accepted and for a non-offer. Generated: the one definition the performance score '
    'and the reports read.';

-- the performance score weighs four parts; a manager's own weights stay as they were (the new parts weigh 0)
UPDATE crm.settings
   SET shape = shape || '{"accept_weight": "fraction", "offer_response_weight": "fraction"}',
       value = CASE WHEN value = '{"conversion_weight": 0.6, "response_weight": 0.4, "response_zero_after": "48 hours", "window": "90 days", "neutral": 50}'
                    THEN value || '{"conversion_weight": 0.45, "response_weight": 0.25, "accept_weight": 0.15, "offer_response_weight": 0.15}'
                    ELSE value || '{"accept_weight": 0, "offer_response_weight": 0}' END,
       description = 'An agent''s performance score (0-100, used by the ranking), over the window: conversion_weight x '
                     'the conversion rate + response_weight x a first-contact score (100 for an immediate first '
                     'contact, falling linearly to 0 at response_zero_after) + accept_weight x the offer accept rate '
                     '+ offer_response_weight x an offer-response score (100 for an immediate acceptance, 0 at '
                     'first_response_sla, from the p90 offer response); the weights add up to 1; a part with no data '
                     'counts as neutral.'
 WHERE setting_key = 'performance_score';
