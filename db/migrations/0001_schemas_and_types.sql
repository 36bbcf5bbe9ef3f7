-- 0001 schemas, extensions and enumerated types.
--
-- crm       tables, types, private helpers and trigger functions (the data)
-- api       the functions the application calls (no data: dropped and rebuilt freely)
-- reporting read-only views for psql users, dashboards and BI tools
-- ext       contrib extensions, kept out of the other schemas

CREATE SCHEMA IF NOT EXISTS ext;
CREATE EXTENSION IF NOT EXISTS btree_gist WITH SCHEMA ext;

CREATE SCHEMA crm;
CREATE SCHEMA api;
CREATE SCHEMA reporting;

COMMENT ON SCHEMA crm IS 'Lead-management data: tables, types, triggers and private helper functions.';
COMMENT ON SCHEMA api IS 'The stable contract the application calls: one function per request. Holds no data.';
COMMENT ON SCHEMA reporting IS 'Read-only views and set-returning functions for psql users, dashboards and BI tools.';
COMMENT ON SCHEMA ext IS 'Contrib extensions (btree_gist) used by crm constraints.';

CREATE TYPE crm.lead_status AS ENUM (
    'new', 'contacted', 'qualified', 'viewing_scheduled', 'negotiation', 'converted', 'lost'
);
COMMENT ON TYPE crm.lead_status IS
    'Sales pipeline stage. Allowed moves live in crm.lead_status_transitions; converted and lost are terminal.';

CREATE TYPE crm.property_type AS ENUM ('apartment', 'villa', 'townhouse', 'commercial');
COMMENT ON TYPE crm.property_type IS 'Property types a lead may want and an agent may specialise in.';

CREATE TYPE crm.agent_role AS ENUM ('agent', 'supervisor');
COMMENT ON TYPE crm.agent_role IS 'agent works leads; supervisor also receives escalations and may reassign.';

CREATE TYPE crm.activity_type AS ENUM (
    'call', 'email', 'whatsapp', 'viewing', 'meeting', 'offer_made',
    'note', 'duplicate_inquiry', 'assignment', 'escalation', 'score_change'
);
COMMENT ON TYPE crm.activity_type IS
    'call..offer_made are agent interactions (the brief''s list); the rest are system events written by the database.';

CREATE TYPE crm.activity_outcome AS ENUM ('positive', 'negative', 'neutral');

CREATE TYPE crm.task_type AS ENUM ('call', 'email', 'whatsapp', 'viewing', 'meeting');
CREATE TYPE crm.task_priority AS ENUM ('high', 'medium', 'low');
CREATE TYPE crm.task_status AS ENUM ('open', 'done', 'cancelled');
CREATE TYPE crm.interest_level AS ENUM ('high', 'medium', 'low');
CREATE TYPE crm.property_status AS ENUM ('available', 'reserved', 'sold', 'off_market');

CREATE TYPE crm.assignment_kind AS ENUM (
    'auto', 'duplicate_link', 'manual', 'auto_reassign_no_response', 'workload_balance', 'queue_drain', 'import'
);
COMMENT ON TYPE crm.assignment_kind IS
    'Why an assignment row was opened: ranking at capture, routed with an earlier duplicate, by a supervisor, '
    'by the 24 h no-response sweep, by workload balancing, when the queue drained, or by a bulk import/seed.';
