-- 0012 access control: API keys with roles, the endpoint matrix as data, row-level security on the lead tables.
-- The functions (api.begin_request, crm.authorize, the key functions) and the policies themselves live in
-- db/functions/26_api_access.sql, which needs the functions the policies call.

CREATE TYPE crm.api_role AS ENUM ('integration', 'agent', 'supervisor', 'admin');
COMMENT ON TYPE crm.api_role IS
    'What an API key may do: integration (portals, website: capture only), agent (their own leads and dashboard), '
    'supervisor (every lead, reassignment, analytics), admin (everything).';

-- keys are stored as a SHA-256 of the whole key: a key is 256 random bits, so a fast hash is enough (no dictionary
-- to attack), and the lookup is by the 8-character prefix that the key carries in clear
CREATE TABLE crm.api_keys (
    key_id      uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    prefix      text NOT NULL CONSTRAINT api_keys_prefix_format CHECK (prefix ~ '^[0-9a-f]{8}$'),
    secret_hash bytea NOT NULL CONSTRAINT api_keys_secret_hash_size CHECK (octet_length(secret_hash) = 32),
    role        crm.api_role NOT NULL,
    agent_id    uuid REFERENCES crm.agents (agent_id),
    label       text NOT NULL CONSTRAINT api_keys_label_length CHECK (length(label) BETWEEN 1 AND 200),
    created_at  timestamptz NOT NULL DEFAULT now(),
    created_by  text NOT NULL,
    revoked_at  timestamptz,
    revoked_by  text,
    CONSTRAINT api_keys_prefix_unique UNIQUE (prefix),
    CONSTRAINT api_keys_agent_binding CHECK ((role = 'agent') = (agent_id IS NOT NULL)),
    CONSTRAINT api_keys_revocation_pair CHECK ((revoked_at IS NULL) = (revoked_by IS NULL))
);
COMMENT ON TABLE crm.api_keys IS
    'API keys: the SHA-256 of each key (never the key), its lookup prefix, role, the agent an agent key is bound to, '
    'and its revocation. Created and revoked by api.create_api_key / api.revoke_api_key (python -m api keys).';
COMMENT ON COLUMN crm.api_keys.prefix IS 'The 8 hex characters after "trk_" in the key: shown in lists, used for lookup.';
COMMENT ON COLUMN crm.api_keys.secret_hash IS 'sha256 of the whole key text; the key itself is shown once, at creation.';
CREATE INDEX api_keys_agent_idx ON crm.api_keys (agent_id) WHERE agent_id IS NOT NULL;

-- the endpoint matrix: which role may run which action, on everything or on its own agent's rows only
CREATE TABLE crm.api_permissions (
    action text NOT NULL,
    role   crm.api_role NOT NULL,
    scope  text NOT NULL CONSTRAINT api_permissions_scope CHECK (scope IN ('all', 'own')),
    PRIMARY KEY (action, role),
    CONSTRAINT api_permissions_own_is_agent CHECK (scope = 'all' OR role = 'agent')
);
COMMENT ON TABLE crm.api_permissions IS
    'The endpoint matrix: a role may run an action on everything (all) or, for agent keys, on their own leads and '
    'dashboard only (own). No row: refused (403). Read by crm.authorize; README shows it as a table.';
INSERT INTO crm.api_permissions (action, role, scope) VALUES
    ('capture', 'integration', 'all'), ('capture', 'supervisor', 'all'), ('capture', 'admin', 'all'),
    ('update_lead', 'agent', 'own'), ('update_lead', 'supervisor', 'all'), ('update_lead', 'admin', 'all'),
    ('dashboard', 'agent', 'own'), ('dashboard', 'supervisor', 'all'), ('dashboard', 'admin', 'all'),
    ('reassign_lead', 'supervisor', 'all'), ('reassign_lead', 'admin', 'all'),
    ('analytics', 'supervisor', 'all'), ('analytics', 'admin', 'all'),
    ('dead_letters', 'supervisor', 'all'), ('dead_letters', 'admin', 'all'),
    ('manage_keys', 'admin', 'all');

-- row-level security on the lead tables; the policies are created with the functions they call (26_api_access)
ALTER TABLE crm.leads ENABLE ROW LEVEL SECURITY;
ALTER TABLE crm.lead_assignments ENABLE ROW LEVEL SECURITY;
ALTER TABLE crm.lead_activities ENABLE ROW LEVEL SECURITY;
ALTER TABLE crm.follow_up_tasks ENABLE ROW LEVEL SECURITY;
ALTER TABLE crm.lead_conversion_history ENABLE ROW LEVEL SECURITY;

-- the app's login reads (and may update leads) through those policies; everything else stays behind api.*
GRANT USAGE ON SCHEMA crm TO thinkrealty_app;
