-- Demo data, part 1: the sales team (2 supervisors, 13 agents, one of them inactive) and what each
-- agent specialises in: languages, property types and areas.
--
-- Ids are md5('agent-' || key)::uuid, so the other files can refer to an agent by its key.
-- active_leads is never written here: it starts at 0 and the assignment triggers count it.

-- supervisors first: the agents below point at them
INSERT INTO crm.agents (agent_id, full_name, full_name_ar, email, phone, role, supervisor_id,
                        is_active, max_active_leads, performance_score, hired_on)
SELECT md5('agent-' || v.agent_key)::uuid, v.full_name, v.full_name_ar, v.email, v.phone,
       'supervisor', NULL, true, v.max_active_leads, v.performance_score, v.hired_on
  FROM (VALUES
        ('khalid.almansoori', 'Khalid Al Mansoori', 'خالد المنصوري', 'khalid.almansoori@thinkrealty.ae', '+971504410021', 30, 88.50, date '2014-03-16'),
        ('sarah.thompson',    'Sarah Thompson',     NULL,            'sarah.thompson@thinkrealty.ae',    '+971504410022', 25, 84.00, date '2016-09-04')
       ) AS v (agent_key, full_name, full_name_ar, email, phone, max_active_leads, performance_score, hired_on)
ON CONFLICT (agent_id) DO NOTHING;

-- agents; max_active_leads below 50 for a few (personal capacity). Maria Santos starts active: she works leads
-- until she leaves the company 40 days ago, when 40_history.sql hands her leads over and deactivates her.
INSERT INTO crm.agents (agent_id, full_name, full_name_ar, email, phone, role, supervisor_id,
                        is_active, max_active_leads, performance_score, hired_on)
SELECT md5('agent-' || v.agent_key)::uuid, v.full_name, v.full_name_ar,
       v.agent_key || '@thinkrealty.ae', v.phone, 'agent',
       md5('agent-' || v.supervisor_key)::uuid, v.is_active, v.max_active_leads, v.performance_score, v.hired_on
  FROM (VALUES
        -- key                 full name              Arabic name        phone            supervisor           active  max  perf   hired
        ('omar.haddad',       'Omar Haddad',         'عمر حداد',         '+971501187340', 'khalid.almansoori', true,  50, 79.25, date '2018-02-11'),
        ('fatima.alsuwaidi',  'Fatima Al Suwaidi',   'فاطمة السويدي',    '+971502293815', 'khalid.almansoori', true,  50, 82.10, date '2017-06-25'),
        ('youssef.elamrani',  'Youssef El Amrani',   'يوسف العمراني',    '+971503371962', 'khalid.almansoori', true,  40, 71.40, date '2020-01-19'),
        ('mariam.abdullah',   'Mariam Abdullah',     'مريم عبدالله',     '+971504462178', 'khalid.almansoori', true,  45, 76.80, date '2019-10-06'),
        ('sultan.alketbi',    'Sultan Al Ketbi',     'سلطان الكتبي',     '+971505519034', 'khalid.almansoori', true,  20, 68.90, date '2022-04-10'),
        ('reza.tehrani',      'Reza Tehrani',        NULL,               '+971506628451', 'khalid.almansoori', true,  30, 73.15, date '2019-03-03'),
        ('priya.nair',        'Priya Nair',          NULL,               '+971521734096', 'sarah.thompson',    true,  50, 80.60, date '2018-08-12'),
        ('elena.petrova',     'Elena Petrova',       NULL,               '+971522845517', 'sarah.thompson',    true,  20, 77.35, date '2021-05-23'),
        ('james.whitaker',    'James Whitaker',      NULL,               '+971523956608', 'sarah.thompson',    true,  50, 74.00, date '2017-11-05'),
        ('li.wei',            'Li Wei',              NULL,               '+971524067729', 'sarah.thompson',    true,  20, 69.75, date '2022-09-18'),
        ('ahmed.raza',        'Ahmed Raza',          NULL,               '+971525178830', 'sarah.thompson',    true,  40, 72.50, date '2020-07-12'),
        ('hannah.schmidt',    'Hannah Schmidt',      NULL,               '+971526289941', 'sarah.thompson',    true,  35, 75.20, date '2021-02-14'),
        ('maria.santos',      'Maria Santos',        NULL,               '+971527391052', 'sarah.thompson',    true,  40, 61.30, date '2019-12-01')
       ) AS v (agent_key, full_name, full_name_ar, phone, supervisor_key, is_active, max_active_leads, performance_score, hired_on)
ON CONFLICT (agent_id) DO NOTHING;

-- specialisations: one row per agent with arrays, unnested into the three link tables
CREATE TEMP TABLE seed_agent_spec ON COMMIT DROP AS
SELECT md5('agent-' || s.agent_key)::uuid AS agent_id, s.*
  FROM (VALUES
        ('khalid.almansoori', '{arabic,english}'::text[],          '{villa,townhouse}'::crm.property_type[],      '{palm_jumeirah,emirates_hills,arabian_ranches,dubai_hills,jumeirah}'::text[]),
        ('sarah.thompson',    '{english,french}',                  '{apartment,commercial}',                      '{downtown_dubai,business_bay,difc,city_walk}'),
        ('omar.haddad',       '{arabic,english,french}',           '{apartment,townhouse}',                       '{dubai_marina,jbr,jlt,jvc,business_bay}'),
        ('fatima.alsuwaidi',  '{arabic,english}',                  '{villa,townhouse}',                           '{arabian_ranches,dubai_hills,damac_hills,mirdif,town_square}'),
        ('youssef.elamrani',  '{arabic,french,english}',           '{apartment,commercial}',                      '{downtown_dubai,business_bay,difc,dubai_creek_harbour}'),
        ('mariam.abdullah',   '{arabic,english}',                  '{apartment,villa}',                           '{jumeirah,city_walk,al_barsha,palm_jumeirah}'),
        ('sultan.alketbi',    '{arabic,english}',                  '{commercial,villa}',                          '{difc,business_bay,emirates_hills,palm_jumeirah}'),
        ('reza.tehrani',      '{farsi,english,arabic}',            '{villa,apartment}',                           '{palm_jumeirah,emirates_hills,deira,jumeirah}'),
        ('priya.nair',        '{english,hindi,malayalam}',         '{apartment,townhouse}',                       '{jvc,jlt,dubai_south,town_square,al_barsha}'),
        ('elena.petrova',     '{russian,english}',                 '{apartment,villa}',                           '{dubai_marina,jbr,palm_jumeirah}'),
        ('james.whitaker',    '{english}',                         '{villa,townhouse}',                           '{dubai_hills,arabian_ranches,emirates_hills,damac_hills}'),
        ('li.wei',            '{chinese,english}',                 '{apartment,commercial}',                      '{downtown_dubai,dubai_creek_harbour,business_bay,jvc}'),
        ('ahmed.raza',        '{urdu,hindi,english}',              '{apartment,commercial}',                      '{deira,al_barsha,jlt,dubai_south}'),
        ('hannah.schmidt',    '{german,english,french}',           '{villa,apartment}',                           '{jumeirah,city_walk,dubai_hills,palm_jumeirah}'),
        ('maria.santos',      '{english,tagalog,spanish}',         '{apartment}',                                 '{jvc,town_square}')
       ) AS s (agent_key, languages, property_types, areas);

INSERT INTO crm.agent_languages (agent_id, language)
SELECT s.agent_id, l FROM seed_agent_spec AS s, unnest(s.languages) AS l
ON CONFLICT (agent_id, language) DO NOTHING;

INSERT INTO crm.agent_property_types (agent_id, property_type)
SELECT s.agent_id, t FROM seed_agent_spec AS s, unnest(s.property_types) AS t
ON CONFLICT (agent_id, property_type) DO NOTHING;

INSERT INTO crm.agent_areas (agent_id, area_code)
SELECT s.agent_id, a FROM seed_agent_spec AS s, unnest(s.areas) AS a
ON CONFLICT (agent_id, area_code) DO NOTHING;
