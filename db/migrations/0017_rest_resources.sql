-- 0017 the REST resources (issue 14): lead versions for ETags, the indexes that serve lead lists and search, the
-- endpoint matrix's new actions, setting shapes, the audit of policy changes, and row-level security on the
-- tables the new invoker-rights reads need.

-- the lead's version: bumped by every UPDATE (trigger leads_11_version), the ETag of GET/PATCH /api/v1/leads/{id}
ALTER TABLE crm.leads ADD COLUMN version integer NOT NULL DEFAULT 1
    CONSTRAINT leads_version_positive CHECK (version > 0);
COMMENT ON COLUMN crm.leads.version IS
    'Bumped by every change of the row; the lead''s ETag. PATCH with a stale If-Match is refused (lead_version_mismatch).';

-- search: trigram substrings of name and e-mail (any script), exact phone (leads_phone_created_idx)
CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA ext;
CREATE INDEX leads_search_trgm_idx ON crm.leads
    USING gin ((lower(first_name::text || ' ' || last_name::text || ' ' || coalesce(email::text, ''))) ext.gin_trgm_ops);
-- keyset order of the lists: (created_at, lead_id) replaces (created_at); (score, lead_id)
CREATE INDEX leads_created_lead_idx ON crm.leads (created_at, lead_id);
DROP INDEX crm.leads_created_at_idx;
CREATE INDEX leads_score_lead_idx ON crm.leads (score, lead_id);
-- follow-up lists by due time (any agent) and the lead's open follow-ups
CREATE INDEX follow_up_tasks_open_due_idx ON crm.follow_up_tasks (due_at, task_id) WHERE status = 'open';

-- the new actions of the endpoint matrix
INSERT INTO crm.api_permissions (action, role, scope) VALUES
    ('read_leads', 'agent', 'own'), ('read_leads', 'supervisor', 'all'), ('read_leads', 'admin', 'all'),
    ('edit_lead', 'agent', 'own'), ('edit_lead', 'supervisor', 'all'), ('edit_lead', 'admin', 'all'),
    ('follow_ups', 'agent', 'own'), ('follow_ups', 'supervisor', 'all'), ('follow_ups', 'admin', 'all'),
    ('read_agents', 'agent', 'own'), ('read_agents', 'supervisor', 'all'), ('read_agents', 'admin', 'all'),
    ('manage_agents', 'supervisor', 'all'), ('manage_agents', 'admin', 'all'),
    ('read_policy', 'supervisor', 'all'), ('read_policy', 'admin', 'all'),
    ('manage_policy', 'admin', 'all'),
    ('reference', 'integration', 'all'), ('reference', 'agent', 'all'), ('reference', 'supervisor', 'all'),
    ('reference', 'admin', 'all');

-- every setting has a documented shape its value is checked against (crm.check_setting_shape, trigger
-- settings_20_shape): a bad value is refused when written, never found broken when read
ALTER TABLE crm.settings ADD COLUMN shape jsonb;
UPDATE crm.settings SET shape = CASE setting_key
    WHEN 'timezone' THEN '"timezone"'
    WHEN 'business_hours' THEN '{"start": "time", "end": "time", "days": ["isodow"]}'
    WHEN 'assignment_weights' THEN '{"property_type": "points", "property_type_generalist": "points", "area": "points", "area_generalist": "points", "language": "points", "performance": "points", "workload": "points"}'
    WHEN 'date_range_bounds' THEN '{"earliest": "date", "ahead": "interval"}'
    WHEN 'performance_score' THEN '{"conversion_weight": "fraction", "response_weight": "fraction", "response_zero_after": "interval", "window": "interval", "neutral": "percent"}'
    WHEN 'suggestion_budget_tolerance' THEN '"fraction"'
    WHEN 'workload_balance_threshold' THEN '"capacity"'
    ELSE CASE WHEN setting_key LIKE 'sla\_%'
              THEN '{"within": "interval", "priority": "task_priority", "min_score": "percent", "task_type": "task_type", "business_time": "boolean"}'
              ELSE '"interval"' END
    END::jsonb;
ALTER TABLE crm.settings ALTER COLUMN shape SET NOT NULL;
COMMENT ON COLUMN crm.settings.shape IS
    'The shape the value must have: a type name (interval, time, date, timezone, boolean, fraction 0..1, percent '
    '0..100, points 0..100, capacity 0..50, count 0.., isodow 1..7, task_priority, task_type) or an object of keys and shapes, '
    'or a one-element array (a list of that shape). Checked by crm.check_setting_shape on every write.';

-- who changed which policy when, with the old and the new value (trigger on settings and scoring rules: psql too)
CREATE TABLE crm.policy_changes (
    change_id  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind       text NOT NULL CONSTRAINT policy_changes_kind_known CHECK (kind IN ('setting', 'scoring_rule')),
    policy_key text NOT NULL,
    old_value  jsonb,
    new_value  jsonb,
    changed_by text NOT NULL,
    changed_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE crm.policy_changes IS
    'Append-only: one row per change of a setting or a scoring rule (API or psql), with the old and new row as JSON.';
CREATE INDEX policy_changes_changed_idx ON crm.policy_changes (changed_at DESC, change_id DESC);

-- the invoker-rights reads of the new endpoints see these through row-level security (90_policies.sql)
ALTER TABLE crm.lead_preferred_areas ENABLE ROW LEVEL SECURITY;
ALTER TABLE crm.lead_property_interests ENABLE ROW LEVEL SECURITY;
