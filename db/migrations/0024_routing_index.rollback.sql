-- CASCADE also drops what reads these columns (the routing triggers, reporting.invariant_violations), as the other
-- rollbacks do; the next migrate re-creates them.
ALTER TABLE crm.agents DROP COLUMN IF EXISTS routing_profile_id CASCADE, DROP COLUMN IF EXISTS base_points CASCADE;
DROP TABLE IF EXISTS crm.routing_profiles;
