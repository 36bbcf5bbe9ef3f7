-- 0005 follow-up tasks (with the no-overlap rule per agent) and their escalations.

CREATE TABLE crm.follow_up_tasks (
    task_id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    lead_id           uuid NOT NULL REFERENCES crm.leads (lead_id),
    agent_id          uuid NOT NULL REFERENCES crm.agents (agent_id),
    task_type         crm.task_type NOT NULL,
    priority          crm.task_priority NOT NULL DEFAULT 'medium',
    status            crm.task_status NOT NULL DEFAULT 'open',
    due_at            timestamptz NOT NULL,
    ends_at           timestamptz NOT NULL,
    notes             text CONSTRAINT follow_up_tasks_notes_length CHECK (length(notes) <= 2000),
    completed_at      timestamptz,
    escalated_at      timestamptz,
    escalated_to      uuid REFERENCES crm.agents (agent_id),
    created_at        timestamptz NOT NULL DEFAULT now(),
    created_by        text NOT NULL DEFAULT current_user,
    updated_at        timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT follow_up_tasks_slot_order CHECK (ends_at > due_at AND ends_at <= due_at + interval '8 hours'),
    CONSTRAINT follow_up_tasks_completed_when_closed CHECK ((status = 'open') = (completed_at IS NULL)),
    CONSTRAINT follow_up_tasks_escalation_pair CHECK ((escalated_at IS NULL) = (escalated_to IS NULL)),
    CONSTRAINT follow_up_tasks_no_overlap EXCLUDE USING gist (
        agent_id WITH =,
        tstzrange(due_at, ends_at) WITH &&
    ) WHERE (status = 'open')
);
COMMENT ON TABLE crm.follow_up_tasks IS
    'Scheduled follow-ups. One agent''s open tasks may not overlap in time (follow_up_tasks_no_overlap). '
    'Open tasks overdue by more than the escalation setting (30 days) are escalated by the sweep.';
COMMENT ON COLUMN crm.follow_up_tasks.agent_id IS 'Agent who owns the task (the lead''s agent when it was scheduled).';
COMMENT ON COLUMN crm.follow_up_tasks.due_at IS 'Start of the slot: when the follow-up is due.';
COMMENT ON COLUMN crm.follow_up_tasks.ends_at IS 'End of the slot (due_at + follow_up_default_duration when not given).';
COMMENT ON COLUMN crm.follow_up_tasks.status IS 'open, done (completed_at set) or cancelled.';
COMMENT ON COLUMN crm.follow_up_tasks.escalated_at IS 'When the task was escalated for being overdue; see crm.follow_up_escalations.';
COMMENT ON COLUMN crm.follow_up_tasks.escalated_to IS 'Supervisor the escalation went to.';

-- an agent's open tasks by due time (dashboard pending tasks, overdue count, next free slot)
CREATE INDEX follow_up_tasks_agent_open_idx ON crm.follow_up_tasks (agent_id, due_at) WHERE status = 'open';
-- a lead's tasks (next follow-up of a lead)
CREATE INDEX follow_up_tasks_lead_idx ON crm.follow_up_tasks (lead_id, due_at);
-- escalation sweep: open, unescalated tasks by due time
CREATE INDEX follow_up_tasks_escalation_idx ON crm.follow_up_tasks (due_at) WHERE status = 'open' AND escalated_at IS NULL;
CREATE INDEX follow_up_tasks_escalated_to_idx ON crm.follow_up_tasks (escalated_to) WHERE escalated_to IS NOT NULL;

CREATE TABLE crm.follow_up_escalations (
    escalation_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    task_id       uuid NOT NULL REFERENCES crm.follow_up_tasks (task_id),
    escalated_to  uuid NOT NULL REFERENCES crm.agents (agent_id),
    overdue_by    interval NOT NULL,
    reason        text NOT NULL,
    escalated_at  timestamptz NOT NULL DEFAULT now(),
    escalated_by  text NOT NULL DEFAULT current_user
);
COMMENT ON TABLE crm.follow_up_escalations IS 'Append-only record of each escalation of an overdue follow-up to a supervisor.';
CREATE INDEX follow_up_escalations_task_idx ON crm.follow_up_escalations (task_id);
CREATE INDEX follow_up_escalations_to_idx ON crm.follow_up_escalations (escalated_to, escalated_at);
