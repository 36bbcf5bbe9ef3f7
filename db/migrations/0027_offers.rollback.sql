-- 0027 rolled back: the settings, permissions and topics (with their events), the pond and offer columns, and the
-- assignment kind pond_claim (its rows become manual, then the type is rebuilt without it; the function layer, whose
-- triggers keep assignments immutable, is already dropped).
DELETE FROM crm.settings WHERE setting_key IN ('first_response_sla', 'max_offers', 'pond_alert_after', 'daily_claim_cap');
DELETE FROM crm.api_permissions WHERE action IN ('respond_offer', 'claim_lead', 'pond');
DELETE FROM crm.webhook_deliveries WHERE event_id IN (SELECT event_id FROM crm.outbox_events WHERE topic IN
    ('lead.offered', 'lead.accepted', 'lead.offer_declined', 'lead.offer_expired', 'lead.pooled', 'lead.claimed',
     'sla.breached'));
DELETE FROM crm.outbox_events WHERE topic IN ('lead.offered', 'lead.accepted', 'lead.offer_declined',
    'lead.offer_expired', 'lead.pooled', 'lead.claimed', 'sla.breached');
DELETE FROM crm.event_topics WHERE topic IN ('lead.offered', 'lead.accepted', 'lead.offer_declined',
    'lead.offer_expired', 'lead.pooled', 'lead.claimed', 'sla.breached');
ALTER TABLE crm.leads DROP COLUMN IF EXISTS pooled_at CASCADE, DROP COLUMN IF EXISTS pond_alerted_at CASCADE;
ALTER TABLE crm.lead_assignments DROP COLUMN IF EXISTS respond_by CASCADE, DROP COLUMN IF EXISTS offer_round CASCADE,
    DROP COLUMN IF EXISTS accepted_at CASCADE;
UPDATE crm.lead_assignments SET kind = 'manual' WHERE kind::text = 'pond_claim';
ALTER TYPE crm.assignment_kind RENAME TO assignment_kind_0027;
CREATE TYPE crm.assignment_kind AS ENUM (
    'auto', 'duplicate_link', 'manual', 'auto_reassign_no_response', 'workload_balance', 'queue_drain', 'import'
);
COMMENT ON TYPE crm.assignment_kind IS
    'Why an assignment row was opened: ranking at capture, routed with an earlier duplicate, by a supervisor, '
    'by the 24 h no-response sweep, by workload balancing, when the queue drained, or by a bulk import/seed.';
ALTER TABLE crm.lead_assignments ALTER COLUMN kind TYPE crm.assignment_kind USING kind::text::crm.assignment_kind;
DROP TYPE crm.assignment_kind_0027;
