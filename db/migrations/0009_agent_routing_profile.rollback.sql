-- CASCADE also drops what reads these columns (the guard trigger on crm.agents, reporting.invariant_violations),
-- as the other rollbacks do; the next migrate re-creates them.
ALTER TABLE crm.agents RESET (fillfactor);
CREATE INDEX agents_eligible_idx ON crm.agents (last_assigned_at NULLS FIRST) WHERE is_active AND role = 'agent';
ALTER TABLE crm.agents DROP COLUMN IF EXISTS property_types CASCADE, DROP COLUMN IF EXISTS area_codes CASCADE,
    DROP COLUMN IF EXISTS languages CASCADE;
