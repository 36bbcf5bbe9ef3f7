-- pgbench script: the same statement the API runs, with the body the API would send and the demo integration
-- key (api.begin_request checks it and makes it the caller, as for every HTTP capture), three suggested listings
-- asked in the same transaction as the API asks for them.
-- Phones: a random +1 and 12 digits (valid E.164 for the database; the API's phonenumbers check is not
-- involved here), so collisions are negligible over a run.
\set n random(100000000000, 999999999999)
\set k random(0, 39)
\set s random(1, 6)
\set t random(1, 4)
SELECT api.capture_lead(jsonb_build_object(
    'source_type', (ARRAY['bayut', 'propertyFinder', 'dubizzle', 'website', 'walk_in', 'referral'])[:s],
    'lead_data', jsonb_build_object(
        'first_name', 'Bench', 'last_name', 'Lead', 'phone', '+1' || :n, 'email', 'bench' || :n || '@example.com',
        'nationality', 'UAE', 'language_preference', (ARRAY['english', 'arabic', 'russian', 'hindi'])[:t],
        'budget_min', 500000 + :k * 50000, 'budget_max', 900000 + :k * 100000,
        'property_type', (ARRAY['apartment', 'villa', 'townhouse', 'commercial'])[:t],
        'preferred_areas', (ARRAY['["Marina", "JBR"]', '["Downtown Dubai"]', '["JVC", "JLT"]', '[]'])[:t]::jsonb),
    'source_details', jsonb_build_object('campaign_id', 'bench')), ctx.actor, NULL, NULL, NULL, 3)
  FROM api.begin_request('trk_de000001_demo-integration-portals-and-website') AS ctx;
