-- 0004 leads and everything that hangs off one: preferred areas, assignments, activities,
-- property interests, status history and the audit trail.

CREATE TABLE crm.leads (
    lead_id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    source_type         text NOT NULL REFERENCES crm.lead_sources (source_type),
    external_id         text CONSTRAINT leads_external_id_length CHECK (length(external_id) BETWEEN 1 AND 200),
    first_name          varchar(100) NOT NULL CONSTRAINT leads_first_name_not_blank CHECK (btrim(first_name) <> ''),
    last_name           varchar(100) NOT NULL CONSTRAINT leads_last_name_not_blank CHECK (btrim(last_name) <> ''),
    email               varchar(255) CONSTRAINT leads_email_format CHECK (email ~ '^[^@\s]+@[^@\s]+\.[^@\s]+$' AND email = lower(email)),
    phone               varchar(20) NOT NULL CONSTRAINT leads_phone_e164 CHECK (phone ~ '^\+[1-9][0-9]{6,14}$'),
    nationality         char(2) REFERENCES crm.countries (country_code),
    language_preference text REFERENCES crm.languages (language),
    budget_min          numeric(14, 2) CONSTRAINT leads_budget_min_nonnegative CHECK (budget_min >= 0),
    budget_max          numeric(14, 2) CONSTRAINT leads_budget_max_nonnegative CHECK (budget_max >= 0),
    property_type       crm.property_type,
    status              crm.lead_status NOT NULL DEFAULT 'new',
    score               smallint NOT NULL DEFAULT 0 CONSTRAINT leads_score_range CHECK (score BETWEEN 0 AND 100),
    score_breakdown     jsonb NOT NULL DEFAULT '[]' CONSTRAINT leads_score_breakdown_array CHECK (jsonb_typeof(score_breakdown) = 'array'),
    campaign_id         text CONSTRAINT leads_campaign_id_length CHECK (length(campaign_id) <= 200),
    utm_source          text CONSTRAINT leads_utm_source_length CHECK (length(utm_source) <= 200),
    utm_medium          text CONSTRAINT leads_utm_medium_length CHECK (length(utm_medium) <= 200),
    utm_campaign        text CONSTRAINT leads_utm_campaign_length CHECK (length(utm_campaign) <= 200),
    referrer_agent_id   uuid REFERENCES crm.agents (agent_id),
    source_property_id  uuid REFERENCES crm.properties (property_id),
    duplicate_of        uuid REFERENCES crm.leads (lead_id),
    queued_at           timestamptz,
    assignment_decision jsonb,
    first_contacted_at  timestamptz,
    response_seconds    integer CONSTRAINT leads_response_seconds_nonnegative CHECK (response_seconds >= 0),
    last_activity_at    timestamptz,
    last_decay_at       timestamptz,
    deal_value_aed      numeric(14, 2) CONSTRAINT leads_deal_value_positive CHECK (deal_value_aed > 0),
    lost_reason         text CONSTRAINT leads_lost_reason_not_blank CHECK (btrim(lost_reason) <> ''),
    closed_at           timestamptz,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT leads_source_phone_key UNIQUE (source_type, phone),
    CONSTRAINT leads_source_external_id_key UNIQUE (source_type, external_id),
    CONSTRAINT leads_budget_order CHECK (budget_min IS NULL OR budget_max IS NULL OR budget_min <= budget_max),
    CONSTRAINT leads_not_own_duplicate CHECK (duplicate_of IS DISTINCT FROM lead_id),
    CONSTRAINT leads_deal_value_only_converted CHECK (deal_value_aed IS NULL OR status = 'converted'),
    CONSTRAINT leads_lost_reason_required CHECK ((status = 'lost') = (lost_reason IS NOT NULL)),
    CONSTRAINT leads_closed_at_terminal CHECK ((status IN ('converted', 'lost')) = (closed_at IS NOT NULL)),
    CONSTRAINT leads_queued_only_open CHECK (queued_at IS NULL OR status NOT IN ('converted', 'lost'))
);
COMMENT ON TABLE crm.leads IS
    'One inquiry from one source. The same person may exist once per source (leads_source_phone_key); a repeat '
    'from another source within the duplicate window points at the earlier lead through duplicate_of. '
    'The current agent is the open row in crm.lead_assignments.';
COMMENT ON COLUMN crm.leads.source_type IS 'Where the lead came from (crm.lead_sources).';
COMMENT ON COLUMN crm.leads.external_id IS 'The portal''s own lead id; unique per source, so a portal retry creates nothing.';
COMMENT ON COLUMN crm.leads.phone IS 'E.164 (+971501234567), normalised by the API from any common format; unique per source.';
COMMENT ON COLUMN crm.leads.email IS 'Lower-cased e-mail, optional.';
COMMENT ON COLUMN crm.leads.nationality IS 'ISO 3166-1 alpha-2 country; UAE and GCC nationals score higher.';
COMMENT ON COLUMN crm.leads.language_preference IS 'Preferred language (crm.languages); matched against agents'' languages.';
COMMENT ON COLUMN crm.leads.budget_min IS 'Lower budget in AED.';
COMMENT ON COLUMN crm.leads.budget_max IS 'Upper budget in AED; the budget scoring bands read this (or budget_min when absent).';
COMMENT ON COLUMN crm.leads.property_type IS 'Property type the lead wants (apartment, villa, townhouse, commercial); matched against agents'' specialisations.';
COMMENT ON COLUMN crm.leads.utm_medium IS 'UTM medium of a web lead.';
COMMENT ON COLUMN crm.leads.utm_campaign IS 'UTM campaign of a web lead.';
COMMENT ON COLUMN crm.leads.status IS 'Pipeline stage; moves only along crm.lead_status_transitions.';
COMMENT ON COLUMN crm.leads.score IS 'Lead score 0-100: capture score from the rules plus activity adjustments, clamped.';
COMMENT ON COLUMN crm.leads.score_breakdown IS 'Per-rule contributions of the capture score: [{"rule": ..., "factor": ..., "points": ...}].';
COMMENT ON COLUMN crm.leads.campaign_id IS 'Marketing campaign id from the source.';
COMMENT ON COLUMN crm.leads.utm_source IS 'UTM source of a web lead.';
COMMENT ON COLUMN crm.leads.referrer_agent_id IS 'Agent who referred the lead (referral source).';
COMMENT ON COLUMN crm.leads.source_property_id IS 'Listing the lead inquired about, when it came from a property page.';
COMMENT ON COLUMN crm.leads.duplicate_of IS 'The earlier lead (other source, same phone, within the duplicate window) this one repeats.';
COMMENT ON COLUMN crm.leads.queued_at IS 'Set while the lead waits for an agent with capacity; the queue drains by score, then age.';
COMMENT ON COLUMN crm.leads.assignment_decision IS 'Why the current agent got the lead: candidates considered, with their ranks.';
COMMENT ON COLUMN crm.leads.first_contacted_at IS 'Time of the first agent activity on the lead.';
COMMENT ON COLUMN crm.leads.response_seconds IS 'Seconds from lead creation to the first agent activity (response time).';
COMMENT ON COLUMN crm.leads.last_activity_at IS 'Time of the latest activity of any kind.';
COMMENT ON COLUMN crm.leads.last_decay_at IS 'When the 7-day no-response penalty was last applied (once per silence).';
COMMENT ON COLUMN crm.leads.deal_value_aed IS 'Deal value in AED, only on converted leads; revenue analytics sum it.';
COMMENT ON COLUMN crm.leads.lost_reason IS 'Required exactly when status is lost.';
COMMENT ON COLUMN crm.leads.closed_at IS 'When the lead reached converted or lost; set by trigger.';

-- capture: duplicate check across sources (same phone, any source, recent first)
CREATE INDEX leads_phone_created_idx ON crm.leads (phone, created_at DESC);
-- queue drain: highest score, then oldest first
CREATE INDEX leads_queue_idx ON crm.leads (score DESC, created_at) WHERE queued_at IS NOT NULL;
-- analytics: volume by month and source, conversions by source
CREATE INDEX leads_created_at_idx ON crm.leads (created_at);
CREATE INDEX leads_source_created_idx ON crm.leads (source_type, created_at);
-- analytics: closed leads by outcome and date
CREATE INDEX leads_closed_idx ON crm.leads (status, closed_at) WHERE closed_at IS NOT NULL;
-- sweeps: open leads silent for 7 days
CREATE INDEX leads_open_last_activity_idx ON crm.leads (last_activity_at) WHERE status NOT IN ('converted', 'lost');
CREATE INDEX leads_duplicate_of_idx ON crm.leads (duplicate_of) WHERE duplicate_of IS NOT NULL;
CREATE INDEX leads_referrer_agent_idx ON crm.leads (referrer_agent_id) WHERE referrer_agent_id IS NOT NULL;
CREATE INDEX leads_source_property_idx ON crm.leads (source_property_id) WHERE source_property_id IS NOT NULL;
CREATE INDEX leads_email_idx ON crm.leads (email) WHERE email IS NOT NULL;

CREATE TABLE crm.lead_preferred_areas (
    lead_id   uuid NOT NULL REFERENCES crm.leads (lead_id),
    area_code text NOT NULL REFERENCES crm.areas (area_code),
    PRIMARY KEY (lead_id, area_code)
);
COMMENT ON TABLE crm.lead_preferred_areas IS 'Areas a lead asked for; matched against agents'' areas and listings.';
CREATE INDEX lead_preferred_areas_area_code_idx ON crm.lead_preferred_areas (area_code);

CREATE TABLE crm.lead_assignments (
    assignment_id     uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    lead_id           uuid NOT NULL REFERENCES crm.leads (lead_id),
    agent_id          uuid NOT NULL REFERENCES crm.agents (agent_id),
    kind              crm.assignment_kind NOT NULL,
    reason            text,
    assigned_by       text NOT NULL DEFAULT current_user,
    assigned_at       timestamptz NOT NULL DEFAULT now(),
    first_activity_at timestamptz,
    released_at       timestamptz,
    release_reason    text,
    CONSTRAINT lead_assignments_release_order CHECK (released_at IS NULL OR released_at >= assigned_at),
    CONSTRAINT lead_assignments_release_reason CHECK ((released_at IS NULL) = (release_reason IS NULL))
);
COMMENT ON TABLE crm.lead_assignments IS
    'Who had each lead, when and why. At most one open row (released_at IS NULL) per lead: that is the lead''s agent. '
    'Rows are never deleted; reassignment closes the old row and opens a new one.';
COMMENT ON COLUMN crm.lead_assignments.kind IS 'Why the row was opened (crm.assignment_kind).';
COMMENT ON COLUMN crm.lead_assignments.reason IS 'Free-text reason given by a supervisor or the sweep.';
COMMENT ON COLUMN crm.lead_assignments.assigned_by IS 'Actor: the API caller, the sweep, or the database user.';
COMMENT ON COLUMN crm.lead_assignments.first_activity_at IS 'First activity by this agent on the lead during this assignment (for the 24 h no-response rule).';
COMMENT ON COLUMN crm.lead_assignments.released_at IS 'When the lead left this agent; NULL while the assignment is open.';

-- the rule "exactly one agent at a time"
CREATE UNIQUE INDEX lead_assignments_one_open_per_lead ON crm.lead_assignments (lead_id) WHERE released_at IS NULL;
-- an agent's current leads (dashboard, RLS, counter checks)
CREATE INDEX lead_assignments_agent_open_idx ON crm.lead_assignments (agent_id, assigned_at DESC) INCLUDE (lead_id)
    WHERE released_at IS NULL;
-- a lead's assignment history; an agent's history (analytics)
CREATE INDEX lead_assignments_lead_idx ON crm.lead_assignments (lead_id, assigned_at DESC);
CREATE INDEX lead_assignments_agent_idx ON crm.lead_assignments (agent_id, assigned_at);
-- sweep: open assignments with no agent activity yet
CREATE INDEX lead_assignments_unanswered_idx ON crm.lead_assignments (assigned_at)
    WHERE released_at IS NULL AND first_activity_at IS NULL;

CREATE TABLE crm.lead_activities (
    activity_id  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    lead_id      uuid NOT NULL REFERENCES crm.leads (lead_id),
    agent_id     uuid REFERENCES crm.agents (agent_id),
    activity_type crm.activity_type NOT NULL,
    outcome      crm.activity_outcome,
    notes        text CONSTRAINT lead_activities_notes_length CHECK (length(notes) <= 5000),
    score_delta  smallint NOT NULL DEFAULT 0 CONSTRAINT lead_activities_score_delta_range CHECK (score_delta BETWEEN -100 AND 100),
    details      jsonb NOT NULL DEFAULT '{}',
    occurred_at  timestamptz NOT NULL DEFAULT now(),
    created_at   timestamptz NOT NULL DEFAULT now(),
    created_by   text NOT NULL DEFAULT current_user,
    CONSTRAINT lead_activities_agent_interaction CHECK (
        agent_id IS NOT NULL OR activity_type NOT IN ('call', 'email', 'whatsapp', 'viewing', 'meeting', 'offer_made'))
);
COMMENT ON TABLE crm.lead_activities IS
    'Append-only log of everything done on a lead: agent interactions and system events. UPDATE and DELETE are refused by trigger.';
COMMENT ON COLUMN crm.lead_activities.agent_id IS 'Agent who did it; NULL for system events.';
COMMENT ON COLUMN crm.lead_activities.score_delta IS 'Points the activity added to or took from the lead''s score (after clamping).';
COMMENT ON COLUMN crm.lead_activities.details IS 'Event data (e.g. the duplicate lead id, the old and new agent).';
COMMENT ON COLUMN crm.lead_activities.occurred_at IS 'When it happened (may be earlier than created_at when logged later).';
COMMENT ON COLUMN crm.lead_activities.created_by IS 'Actor who recorded it.';

CREATE INDEX lead_activities_lead_idx ON crm.lead_activities (lead_id, occurred_at DESC);
CREATE INDEX lead_activities_agent_idx ON crm.lead_activities (agent_id, occurred_at DESC) WHERE agent_id IS NOT NULL;

CREATE TABLE crm.lead_property_interests (
    lead_id        uuid NOT NULL REFERENCES crm.leads (lead_id),
    property_id    uuid NOT NULL REFERENCES crm.properties (property_id),
    interest_level crm.interest_level NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (lead_id, property_id)
);
COMMENT ON TABLE crm.lead_property_interests IS 'Listings a lead is interested in, one row per (lead, property), upserted by updates.';
CREATE INDEX lead_property_interests_property_idx ON crm.lead_property_interests (property_id);

CREATE TABLE crm.lead_conversion_history (
    history_id  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    lead_id     uuid NOT NULL REFERENCES crm.leads (lead_id),
    from_status crm.lead_status,
    to_status   crm.lead_status NOT NULL,
    agent_id    uuid REFERENCES crm.agents (agent_id),
    changed_at  timestamptz NOT NULL DEFAULT now(),
    changed_by  text NOT NULL DEFAULT current_user,
    note        text
);
COMMENT ON TABLE crm.lead_conversion_history IS
    'Append-only: one row per status a lead entered (from_status NULL for creation), written by trigger.';
COMMENT ON COLUMN crm.lead_conversion_history.agent_id IS 'The lead''s agent at the time of the change.';
COMMENT ON COLUMN crm.lead_conversion_history.changed_by IS 'Actor (API caller, sweep, or database user).';
CREATE INDEX lead_conversion_history_lead_idx ON crm.lead_conversion_history (lead_id, changed_at);
CREATE INDEX lead_conversion_history_to_status_idx ON crm.lead_conversion_history (to_status, changed_at);

CREATE TABLE crm.lead_audit (
    audit_id   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    lead_id    uuid NOT NULL,
    operation  text NOT NULL CONSTRAINT lead_audit_operation_known CHECK (operation IN ('INSERT', 'UPDATE', 'DELETE')),
    changed_at timestamptz NOT NULL DEFAULT now(),
    changed_by text NOT NULL,
    old_values jsonb,
    new_values jsonb
);
COMMENT ON TABLE crm.lead_audit IS
    'Append-only audit trail: one row per INSERT/UPDATE of crm.leads with the columns that changed (old and new values).';
COMMENT ON COLUMN crm.lead_audit.old_values IS 'Changed columns before the change (NULL on INSERT).';
COMMENT ON COLUMN crm.lead_audit.new_values IS 'Changed columns after the change (the whole row on INSERT).';
CREATE INDEX lead_audit_lead_idx ON crm.lead_audit (lead_id, changed_at);
