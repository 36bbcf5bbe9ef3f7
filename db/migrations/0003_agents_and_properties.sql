-- 0003 agents (with their specialisations and the workload counter) and property listings.

CREATE TABLE crm.agents (
    agent_id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    full_name         varchar(200) NOT NULL CONSTRAINT agents_full_name_not_blank CHECK (btrim(full_name) <> ''),
    full_name_ar      varchar(200),
    email             varchar(255) NOT NULL CONSTRAINT agents_email_format CHECK (email ~ '^[^@\s]+@[^@\s]+\.[^@\s]+$' AND email = lower(email)),
    phone             varchar(20) NOT NULL CONSTRAINT agents_phone_e164 CHECK (phone ~ '^\+[1-9][0-9]{6,14}$'),
    role              crm.agent_role NOT NULL DEFAULT 'agent',
    supervisor_id     uuid REFERENCES crm.agents (agent_id),
    is_active         boolean NOT NULL DEFAULT true,
    max_active_leads  smallint NOT NULL DEFAULT 50
                      CONSTRAINT agents_max_active_leads_range CHECK (max_active_leads BETWEEN 0 AND 50),
    active_leads      integer NOT NULL DEFAULT 0,
    performance_score numeric(5, 2) NOT NULL DEFAULT 50
                      CONSTRAINT agents_performance_score_range CHECK (performance_score BETWEEN 0 AND 100),
    last_assigned_at  timestamptz,
    hired_on          date,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT agents_email_key UNIQUE (email),
    CONSTRAINT agents_active_leads_nonnegative CHECK (active_leads >= 0),
    CONSTRAINT agents_capacity CHECK (active_leads <= max_active_leads),
    CONSTRAINT agents_not_own_supervisor CHECK (supervisor_id IS DISTINCT FROM agent_id)
);
COMMENT ON TABLE crm.agents IS 'Sales agents and supervisors. active_leads is a counter kept exact by triggers; agents_capacity caps it.';
COMMENT ON COLUMN crm.agents.full_name_ar IS 'Name in Arabic script, shown to Arabic-speaking clients.';
COMMENT ON COLUMN crm.agents.email IS 'Login e-mail, stored lower case, unique.';
COMMENT ON COLUMN crm.agents.phone IS 'E.164 phone (+9715...).';
COMMENT ON COLUMN crm.agents.role IS 'agent or supervisor; supervisors receive escalations of their team''s overdue follow-ups.';
COMMENT ON COLUMN crm.agents.supervisor_id IS 'The supervisor escalations go to; NULL sends them to the supervisor pool.';
COMMENT ON COLUMN crm.agents.is_active IS 'Inactive agents (leave, left) get no new leads.';
COMMENT ON COLUMN crm.agents.max_active_leads IS 'Personal capacity, at most 50 (the brief''s ceiling).';
COMMENT ON COLUMN crm.agents.active_leads IS
    'Number of open (not converted/lost) leads whose open assignment is this agent. Maintained by triggers on '
    'crm.lead_assignments and crm.leads; never write it by hand. reporting.invariant_violations checks it.';
COMMENT ON COLUMN crm.agents.performance_score IS 'Composite 0-100 from conversion rate and response time, refreshed by the sweep; used in ranking.';
COMMENT ON COLUMN crm.agents.last_assigned_at IS 'When this agent last received a lead: the round-robin tie-breaker (least recent first).';

CREATE INDEX agents_supervisor_id_idx ON crm.agents (supervisor_id);
-- assignment: eligible agents (active, under capacity), least recently assigned first
CREATE INDEX agents_eligible_idx ON crm.agents (last_assigned_at NULLS FIRST)
    WHERE is_active AND role = 'agent';

CREATE TABLE crm.agent_languages (
    agent_id uuid NOT NULL REFERENCES crm.agents (agent_id) ON DELETE CASCADE,
    language text NOT NULL REFERENCES crm.languages (language),
    PRIMARY KEY (agent_id, language)
);
COMMENT ON TABLE crm.agent_languages IS 'Languages an agent speaks; matched against the lead''s language preference.';
CREATE INDEX agent_languages_language_idx ON crm.agent_languages (language);

CREATE TABLE crm.agent_property_types (
    agent_id      uuid NOT NULL REFERENCES crm.agents (agent_id) ON DELETE CASCADE,
    property_type crm.property_type NOT NULL,
    PRIMARY KEY (agent_id, property_type)
);
COMMENT ON TABLE crm.agent_property_types IS 'Property types an agent specialises in. An agent with none is a generalist.';
CREATE INDEX agent_property_types_type_idx ON crm.agent_property_types (property_type);

CREATE TABLE crm.agent_areas (
    agent_id  uuid NOT NULL REFERENCES crm.agents (agent_id) ON DELETE CASCADE,
    area_code text NOT NULL REFERENCES crm.areas (area_code),
    PRIMARY KEY (agent_id, area_code)
);
COMMENT ON TABLE crm.agent_areas IS 'Dubai areas an agent specialises in.';
CREATE INDEX agent_areas_area_code_idx ON crm.agent_areas (area_code);

CREATE TABLE crm.properties (
    property_id   uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    reference     text NOT NULL CONSTRAINT properties_reference_key UNIQUE,
    title         text NOT NULL,
    property_type crm.property_type NOT NULL,
    area_code     text NOT NULL REFERENCES crm.areas (area_code),
    bedrooms      smallint CONSTRAINT properties_bedrooms_range CHECK (bedrooms BETWEEN 0 AND 20),
    size_sqft     integer CONSTRAINT properties_size_positive CHECK (size_sqft > 0),
    price_aed     numeric(14, 2) NOT NULL CONSTRAINT properties_price_positive CHECK (price_aed > 0),
    status        crm.property_status NOT NULL DEFAULT 'available',
    listed_on     date NOT NULL DEFAULT current_date,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE crm.properties IS 'Listings that leads inquire about, show interest in, and are suggested.';
COMMENT ON COLUMN crm.properties.reference IS 'The brokerage''s listing reference (as on the portals).';
COMMENT ON COLUMN crm.properties.price_aed IS 'Asking price in AED.';
COMMENT ON COLUMN crm.properties.status IS 'Only available listings are suggested.';
-- suggestions: available listings of a type in an area within a price band
CREATE INDEX properties_suggest_idx ON crm.properties (property_type, area_code, price_aed) WHERE status = 'available';
CREATE INDEX properties_area_code_idx ON crm.properties (area_code);
