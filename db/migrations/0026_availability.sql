-- 0026 agent availability (issue 16): weekly working hours per agent, absences, a pause; their derived copies on the
-- agent row (weekly_hours as minutes of the week, absent as one multirange), which routing reads per candidate
-- (db/functions/28_crm_availability.sql: crm.agent_available_at is the one rule).

-- an agent's working hours in the business time zone: several ranges a day allowed; none at all = the office's
-- business_hours. Minutes, no seconds; an end of 24:00 runs to midnight.
CREATE TABLE crm.agent_working_hours (
    agent_id uuid NOT NULL REFERENCES crm.agents (agent_id),
    isodow   smallint NOT NULL CONSTRAINT agent_working_hours_isodow_range CHECK (isodow BETWEEN 1 AND 7),
    starts   time NOT NULL,
    ends     time NOT NULL,
    PRIMARY KEY (agent_id, isodow, starts),
    CONSTRAINT agent_working_hours_order CHECK (starts < ends),
    CONSTRAINT agent_working_hours_whole_minutes
        CHECK (extract(second FROM starts) = 0 AND extract(second FROM ends) = 0),
    CONSTRAINT agent_working_hours_no_overlap EXCLUDE USING gist (
        agent_id WITH =, isodow WITH =,
        int4range((extract(epoch FROM starts) / 60)::integer, (extract(epoch FROM ends) / 60)::integer) WITH &&)
);
COMMENT ON TABLE crm.agent_working_hours IS
    'An agent''s weekly working hours (ISO weekday, start, end; local time of the timezone setting). An agent with no '
    'row works the office''s business_hours. Copied onto crm.agents.weekly_hours by trigger.';

CREATE TYPE crm.absence_reason AS ENUM ('leave', 'sick', 'training', 'other');
CREATE TABLE crm.agent_absences (
    absence_id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    agent_id   uuid NOT NULL REFERENCES crm.agents (agent_id),
    period     tstzrange NOT NULL CONSTRAINT agent_absences_period_bounded
                   CHECK (NOT isempty(period) AND NOT lower_inf(period) AND NOT upper_inf(period)),
    reason     crm.absence_reason NOT NULL,
    note       text CONSTRAINT agent_absences_note_length CHECK (length(note) <= 500),
    created_at timestamptz NOT NULL DEFAULT now(),
    created_by text NOT NULL DEFAULT current_user,
    CONSTRAINT agent_absences_no_overlap EXCLUDE USING gist (agent_id WITH =, period WITH &&)
);
COMMENT ON TABLE crm.agent_absences IS
    'An agent''s absences (leave, sick, training, other) as [start, end) periods; one agent''s never overlap. Copied '
    'onto crm.agents.absent by trigger. An absent agent receives no lead.';

ALTER TABLE crm.agents
    ADD COLUMN paused_until timestamptz,
    ADD COLUMN pause_reason text CONSTRAINT agents_pause_reason_length CHECK (length(pause_reason) <= 200),
    ADD COLUMN weekly_hours int4multirange,
    ADD COLUMN absent tstzmultirange NOT NULL DEFAULT '{}';
COMMENT ON COLUMN crm.agents.paused_until IS
    'The agent takes no lead before this (a viewing, a break); NULL or past: not paused. Set by the agent or a supervisor.';
COMMENT ON COLUMN crm.agents.weekly_hours IS
    'Derived from crm.agent_working_hours: the working minutes of the week (0 = Monday 00:00 local time, 10080 = the '
    'next Monday); NULL: the office''s business_hours.';
COMMENT ON COLUMN crm.agents.absent IS 'Derived from crm.agent_absences: every absence period of the agent, as one multirange.';

-- who may change availability: supervisors everything; an agent its own pause
INSERT INTO crm.api_permissions (action, role, scope) VALUES
    ('manage_availability', 'supervisor', 'all'), ('manage_availability', 'admin', 'all'),
    ('pause', 'agent', 'own'), ('pause', 'supervisor', 'all'), ('pause', 'admin', 'all');

-- the longest pause an agent may set (a viewing, a meeting): beyond it, an absence
INSERT INTO crm.settings (setting_key, value, description, shape) VALUES
    ('max_pause', '"12 hours"', 'The longest pause (POST /api/v1/agents/{id}/pause) an agent or supervisor may set; '
     'longer is an absence.', '"interval"');
