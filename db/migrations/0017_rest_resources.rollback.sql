-- 0017 rolled back.
ALTER TABLE crm.lead_property_interests DISABLE ROW LEVEL SECURITY;
ALTER TABLE crm.lead_preferred_areas DISABLE ROW LEVEL SECURITY;
DROP TABLE crm.policy_changes;
ALTER TABLE crm.settings DROP COLUMN shape;
DELETE FROM crm.api_permissions
 WHERE action IN ('read_leads', 'edit_lead', 'follow_ups', 'read_agents', 'manage_agents', 'read_policy',
                  'manage_policy', 'reference');
DROP INDEX crm.follow_up_tasks_open_due_idx;
DROP INDEX crm.leads_score_lead_idx;
CREATE INDEX leads_created_at_idx ON crm.leads (created_at);
DROP INDEX crm.leads_created_lead_idx;
DROP INDEX crm.leads_search_trgm_idx;
DROP EXTENSION IF EXISTS pg_trgm;
ALTER TABLE crm.leads DROP COLUMN version;
