-- 0027 offers and the pond (issue 16): a routed assignment is an offer with a response deadline (respond_by), held
-- until the agent accepts (accept, or a first outbound contact) or it expires and moves on; after max_offers a lead
-- goes to the pond, where an available agent claims it. The open assignment row carries the offer, so the capacity
-- CHECK and the one-open-assignment index hold through every move.
ALTER TYPE crm.assignment_kind ADD VALUE IF NOT EXISTS 'pond_claim';

ALTER TABLE crm.lead_assignments
    ADD COLUMN respond_by  timestamptz,
    ADD COLUMN offer_round smallint,
    ADD COLUMN accepted_at timestamptz,
    ADD CONSTRAINT lead_assignments_offer_shape CHECK ((respond_by IS NULL) = (offer_round IS NULL)),
    ADD CONSTRAINT lead_assignments_offer_round_positive CHECK (offer_round >= 1),
    ADD CONSTRAINT lead_assignments_accepted_after_assigned CHECK (accepted_at >= assigned_at);
COMMENT ON COLUMN crm.lead_assignments.respond_by IS
    'An offer''s deadline: when the agent''s availability starts plus first_response_sla. NULL: not an offer (a '
    'supervisor''s pick, an import, a claim from the pond, or a row from before offers).';
COMMENT ON COLUMN crm.lead_assignments.offer_round IS 'The offer''s place in its chain: 1, then 2 after an expiry or decline, up to max_offers.';
COMMENT ON COLUMN crm.lead_assignments.accepted_at IS
    'When the agent accepted the offer (POST .../accept or a first outbound contact); for a claim, the claim.';
-- the timer's next deadlines
CREATE INDEX lead_assignments_offer_due_idx ON crm.lead_assignments (respond_by)
    WHERE released_at IS NULL AND accepted_at IS NULL AND respond_by IS NOT NULL;

ALTER TABLE crm.leads
    ADD COLUMN pooled_at timestamptz,
    ADD COLUMN pond_alerted_at timestamptz;
COMMENT ON COLUMN crm.leads.pooled_at IS
    'Since when the lead waits in the pond (every offer expired or was declined): any available agent may claim it.';
COMMENT ON COLUMN crm.leads.pond_alerted_at IS 'When the supervisors were told it waits in the pond too long (sla.breached).';
CREATE INDEX leads_pond_idx ON crm.leads (pooled_at) WHERE pooled_at IS NOT NULL;

-- the topics of the offers
INSERT INTO crm.event_topics (topic, version, description) VALUES
    ('lead.offered', 1, 'A lead was offered to an agent, who must respond by respond_by.'),
    ('lead.accepted', 1, 'The agent accepted the offer (accept, or a first outbound contact).'),
    ('lead.offer_declined', 1, 'The agent declined the offer; it moves on at once.'),
    ('lead.offer_expired', 1, 'The offer was not accepted in time; it moves on.'),
    ('lead.pooled', 1, 'Every offer expired or was declined: the lead waits in the pond for a claim.'),
    ('lead.claimed', 1, 'An agent claimed a lead from the pond.'),
    ('sla.breached', 1, 'A response deadline passed: an offer expired, or a lead waited in the pond too long.');

INSERT INTO crm.api_permissions (action, role, scope) VALUES
    ('respond_offer', 'agent', 'own'), ('respond_offer', 'supervisor', 'all'), ('respond_offer', 'admin', 'all'),
    ('claim_lead', 'agent', 'own'), ('pond', 'agent', 'all'), ('pond', 'supervisor', 'all'), ('pond', 'admin', 'all');

INSERT INTO crm.settings (setting_key, value, description, shape) VALUES
    ('first_response_sla', '"5 minutes"',
     'How long an agent has to accept an offer, from when their availability starts.', '"interval"'),
    ('max_offers', '3', 'Offers of one lead before it goes to the pond.', '"count"'),
    ('pond_alert_after', '"15 minutes"',
     'A lead in the pond longer than this alerts the supervisors (event sla.breached).', '"interval"'),
    ('daily_claim_cap', '10', 'Leads one agent may claim from the pond per business day.', '"count"');
