-- Demo API keys, one per role, for local use only (README lists them). Their text is public, so they exist only in
-- the demo data: production never loads db/seed/ and makes its keys with `crmctl keys create`.
-- Stored as the API stores any key: the sha256 of the key text, and its prefix.
INSERT INTO crm.api_keys (prefix, secret_hash, role, agent_id, label, created_by)
SELECT substring(v.api_key FROM '^trk_([0-9a-f]{8})_'), sha256(convert_to(v.api_key, 'UTF8')), v.role::crm.api_role,
       CASE WHEN v.agent_key IS NOT NULL THEN md5('agent-' || v.agent_key)::uuid END, v.label, 'seed'
  FROM (VALUES
        ('trk_de000001_demo-integration-portals-and-website', 'integration', NULL, 'demo: portals and website form'),
        ('trk_de000002_demo-agent-omar-haddad',                'agent', 'omar.haddad', 'demo: Omar Haddad (agent)'),
        ('trk_de000003_demo-agent-priya-nair',                 'agent', 'priya.nair', 'demo: Priya Nair (agent)'),
        ('trk_de000004_demo-supervisor',                       'supervisor', NULL, 'demo: supervisor'),
        ('trk_de000005_demo-admin',                            'admin', NULL, 'demo: admin')
       ) AS v (api_key, role, agent_key, label)
 WHERE v.agent_key IS NULL OR EXISTS (SELECT 1 FROM crm.agents AS g WHERE g.agent_id = md5('agent-' || v.agent_key)::uuid)
ON CONFLICT (prefix) DO NOTHING;
