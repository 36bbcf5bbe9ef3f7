DROP TABLE IF EXISTS crm.lead_audit CASCADE;
DROP TABLE IF EXISTS crm.lead_conversion_history CASCADE;
DROP TABLE IF EXISTS crm.lead_property_interests CASCADE;
DROP TABLE IF EXISTS crm.lead_activities CASCADE;
DROP TABLE IF EXISTS crm.lead_assignments CASCADE;
DROP TABLE IF EXISTS crm.lead_preferred_areas CASCADE;
DROP TABLE IF EXISTS crm.leads CASCADE;
