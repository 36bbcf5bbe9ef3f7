-- 0013 hardening: a caller only api.begin_request can make, a job login for the sweeps, names that keep what was
-- typed but no control characters, and the policy numbers the new rules read.
-- The functions that use these (crm.caller, crm.seal_caller, the jobs schema's functions) are in db/functions/.

-- the secret that seals a transaction's caller (crm.seal_caller): readable by the owner only, never granted
CREATE TABLE crm.caller_secret (
    singleton boolean PRIMARY KEY DEFAULT true CONSTRAINT caller_secret_singleton CHECK (singleton),
    secret    bytea NOT NULL CONSTRAINT caller_secret_size CHECK (octet_length(secret) = 32),
    created_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE crm.caller_secret IS
    'One random 256-bit secret (from two version-4 UUIDs of the server''s strong random source). api.begin_request '
    'seals the caller it sets with it (crm.seal_caller), and crm.caller() believes only a sealed caller, so a '
    'set_config of the caller settings by the app''s login makes nobody. Only the owner can read it. Replace it '
    '(UPDATE ... SET secret = ...) to void every open transaction''s caller at once.';
INSERT INTO crm.caller_secret (secret)
VALUES (sha256(convert_to(gen_random_uuid()::text || gen_random_uuid()::text, 'UTF8')));

-- the background jobs (sweeps, analytics refresh) run as their own login through the jobs schema; the app's
-- login cannot reach them (the role is created by db/apply.py, like the other logins)
CREATE SCHEMA jobs;
COMMENT ON SCHEMA jobs IS
    'Functions of the background jobs (sweeps, analytics refresh): executable by the job login thinkrealty_jobs and '
    'the owner, never by the API''s login. Holds no data.';
GRANT USAGE ON SCHEMA jobs TO thinkrealty_jobs;

-- the app's login reads data only through api functions and its caller's row-level security, never reporting
REVOKE ALL ON ALL TABLES IN SCHEMA reporting FROM thinkrealty_app;
REVOKE USAGE ON SCHEMA reporting FROM thinkrealty_app;

-- the other tables the app's login may read (for the invoker-rights dashboard) answer only a sealed caller
ALTER TABLE crm.agents ENABLE ROW LEVEL SECURITY;
ALTER TABLE crm.agent_performance_metrics ENABLE ROW LEVEL SECURITY;
ALTER TABLE crm.lead_sources ENABLE ROW LEVEL SECURITY;
ALTER TABLE crm.settings ENABLE ROW LEVEL SECURITY;

-- names: every printable character as typed (any script, marks, ZWNJ/ZWJ, digits, brackets), no control
-- characters (C0, DEL, C1), not blank
ALTER TABLE crm.leads
    DROP CONSTRAINT leads_first_name_not_blank,
    DROP CONSTRAINT leads_last_name_not_blank,
    ADD CONSTRAINT leads_first_name_printable
        CHECK (first_name !~ '^[[:space:]]*$' AND first_name !~ '[\x01-\x1f\x7f-\x9f]'),
    ADD CONSTRAINT leads_last_name_printable
        CHECK (last_name !~ '^[[:space:]]*$' AND last_name !~ '[\x01-\x1f\x7f-\x9f]');

INSERT INTO crm.settings (setting_key, value, description) VALUES
    ('follow_up_horizon', '"365 days"',
     'How far ahead a follow-up may be booked (later: 422 follow_up_too_far).'),
    ('date_range_bounds', '{"earliest": "2000-01-01", "ahead": "1 year"}',
     'Dates a custom dashboard range may name: from earliest to today plus ahead (else 422 date_range_out_of_bounds).'),
    ('sweep_clock_tolerance', '"5 minutes"',
     'How far ahead of the real clock a committed sweep may run without force (jobs.run_sweeps).'),
    ('follow_up_slot_step', '"5 minutes"',
     'Follow-up slots start on multiples of this (the first follow-up''s earliest start is rounded up to it).');
