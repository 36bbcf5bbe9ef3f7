-- Demo data, part 3: the plan of ~195 leads (who they are, which agent works them, how far each gets and when).
-- Nothing is written to crm here: db/seed/40_history.sql replays the plan through the engine (capture, updates,
-- sweeps), and the engine decides everything the rules decide: scores, assignment decisions, first follow-ups and
-- their slots, response times, score changes, decay, escalations, reassignments.
--
-- How the plan is built (all deterministic, see 00_helpers.sql; times relative to now()):
--   1. seed_quota says how many leads each agent works in each pipeline stage. Omar Haddad gets 50 (47 of them
--      open at the end, near his capacity of 50; the balancing sweep then hands his newest untouched leads to
--      colleagues down to its threshold of 45) and Elena Petrova 20 (18 open of 20); Maria Santos works four of
--      Priya Nair's older leads until she leaves the company 40 days ago.
--   2. Each lead takes a language its agent speaks, a nationality that fits the language, a name from that culture
--      (a third of the Arab names in Arabic script), a property type and areas the agent covers, a budget that fits
--      the type, a source and a capture time that fits its stage.
--   3. Five cross-source duplicates repeat an earlier lead's phone within 24 h: they are captured through
--      api.capture_lead, which links them to the earlier lead and routes them to its agent. Three fresh leads of the
--      last two hours go through api.capture_lead too and are routed by the ranking alone.
--   4. seed_step lists each lead's interactions in order (the stage they belong to, the activity, the status they
--      move to) with the time each is wanted at; 40_history.sql holds them to the follow-ups the engine books.
-- Lead ids are md5('lead-' || lead_key)::uuid (the duplicates and the routed leads get theirs from capture).

-- stage numbers: 0 new, 1 contacted, 2 qualified, 3 viewing_scheduled, 4 negotiation, 5 converted, 6 lost
CREATE TEMP TABLE seed_quota ON COMMIT DROP AS
SELECT q.agent_key, md5('agent-' || q.agent_key)::uuid AS agent_id, st.stage, q.counts[st.stage + 1] AS cnt
  FROM (VALUES
        --                      new contacted qualified viewing negotiation converted lost
        ('khalid.almansoori', '{0,1,0,1,1,1,1}'::int[]),
        ('sarah.thompson',    '{0,0,1,0,1,1,1}'),
        ('omar.haddad',       '{9,11,10,9,8,2,1}'),   -- 47 open: near the ceiling of 50
        ('fatima.alsuwaidi',  '{2,3,2,2,2,2,2}'),
        ('youssef.elamrani',  '{2,2,1,2,1,1,2}'),
        ('mariam.abdullah',   '{1,2,2,1,2,1,1}'),
        ('sultan.alketbi',    '{1,1,1,1,1,1,1}'),
        ('reza.tehrani',      '{1,2,1,1,1,1,1}'),
        ('priya.nair',        '{3,3,3,2,2,2,2}'),
        ('elena.petrova',     '{3,4,4,4,3,1,1}'),     -- 18 open of max 20 (20 assignments in all)
        ('james.whitaker',    '{2,2,2,2,1,1,2}'),
        ('li.wei',            '{1,2,1,1,1,1,1}'),
        ('ahmed.raza',        '{2,2,2,1,1,1,2}'),
        ('hannah.schmidt',    '{1,2,1,2,1,1,1}')
       ) AS q (agent_key, counts)
 CROSS JOIN generate_series(0, 6) AS st (stage);

-- nationalities that fit each language (repeats weight the common ones)
CREATE TEMP TABLE seed_language_nationality ON COMMIT DROP AS
SELECT * FROM (VALUES
    ('arabic',    '{AE,AE,AE,AE,SA,SA,KW,QA,OM,BH,EG,EG,JO,LB,SY,PS,IQ}'::text[]),
    ('english',   '{GB,GB,GB,IN,IN,US,CA,AU,IE,ZA,NG,PH,PK,KE}'),
    ('hindi',     '{IN}'),
    ('malayalam', '{IN}'),
    ('urdu',      '{PK}'),
    ('russian',   '{RU,RU,RU,KZ,UA}'),
    ('french',    '{FR,FR,BE,MA,TN,DZ,LB}'),
    ('farsi',     '{IR,IR,IR,AF}'),
    ('chinese',   '{CN,CN,CN,SG,MY}'),
    ('german',    '{DE,DE,DE,CH}'),
    ('tagalog',   '{PH}')
) AS v (language, nationalities);

-- name pools by culture; the Arab pools carry the same names in Arabic script, index for index
CREATE TEMP TABLE seed_name_pool ON COMMIT DROP AS
SELECT * FROM (VALUES
    ('gulf',
     '{Mohammed,Ahmed,Khalid,Saeed,Rashid,Hamdan,Sultan,Abdullah,Majid,Obaid,Fatima,Mariam,Aisha,Noura,Hessa,Latifa,Shamma,Alia,Maitha,Reem}'::text[],
     '{محمد,أحمد,خالد,سعيد,راشد,حمدان,سلطان,عبدالله,ماجد,عبيد,فاطمة,مريم,عائشة,نورة,حصة,لطيفة,شما,علياء,ميثاء,ريم}'::text[],
     '{Al Falasi,Al Mazrouei,Al Shamsi,Al Nuaimi,Al Marri,Al Zaabi,Al Dhaheri,Al Harbi,Al Otaibi,Al Ghamdi,Al Kaabi,Al Hammadi}'::text[],
     '{الفلاسي,المزروعي,الشامسي,النعيمي,المري,الزعابي,الظاهري,الحربي,العتيبي,الغامدي,الكعبي,الحمادي}'::text[]),
    ('levant',
     '{Omar,Karim,Tarek,Hassan,Ziad,Rami,Sami,Nabil,Yousef,Mahmoud,Rania,Lina,Dina,Nour,Salma,Hala,Yasmin,Mona,Rana,Leila}',
     '{عمر,كريم,طارق,حسن,زياد,رامي,سامي,نبيل,يوسف,محمود,رانيا,لينا,دينا,نور,سلمى,هالة,ياسمين,منى,رنا,ليلى}',
     '{Haddad,Khalil,Nasser,Saleh,Farouk,Mansour,Aziz,Khoury,Saad,Barakat,Sabbagh,Darwish}',
     '{حداد,خليل,ناصر,صالح,فاروق,منصور,عزيز,خوري,سعد,بركات,صباغ,درويش}'),
    ('maghreb',
     '{Youssef,Mehdi,Amine,Karim,Hamza,Anas,Sofia,Imane,Salma,Houda,Khadija,Nadia}',
     '{يوسف,مهدي,أمين,كريم,حمزة,أنس,صوفيا,إيمان,سلمى,هدى,خديجة,نادية}',
     '{Benali,El Idrissi,Bennani,Alaoui,Chraibi,Tazi,Berrada,Ouali,Belkacem,Trabelsi}',
     '{بن علي,الإدريسي,بناني,العلوي,الشرايبي,التازي,برادة,والي,بلقاسم,الطرابلسي}'),
    ('indian',
     '{Rahul,Arjun,Vikram,Sanjay,Rohan,Anil,Suresh,Aditya,Karthik,Priya,Anjali,Neha,Kavya,Deepa,Meera,Sneha,Lakshmi,Divya}', NULL,
     '{Sharma,Patel,Menon,Nair,Iyer,Gupta,Reddy,Kapoor,Pillai,Mehta,Joshi,Agarwal,Varghese,Thomas}', NULL),
    ('pakistani',
     '{Imran,Faisal,Bilal,Usman,Hamza,Asad,Zain,Ali,Ayesha,Sana,Hira,Mahnoor,Zara,Fatima}', NULL,
     '{Khan,Qureshi,Malik,Chaudhry,Butt,Sheikh,Siddiqui,Raza,Mirza,Hussain,Abbasi,Javed}', NULL),
    ('russian_m',
     '{Dmitry,Alexei,Sergei,Ivan,Nikolai,Andrei,Mikhail,Pavel,Artem,Maxim}', NULL,
     '{Ivanov,Smirnov,Kuznetsov,Popov,Volkov,Sokolov,Morozov,Orlov,Lebedev,Novikov}', NULL),
    ('russian_f',
     '{Olga,Anna,Natalia,Ekaterina,Irina,Svetlana,Maria,Elena,Daria,Yulia}', NULL,
     '{Ivanova,Smirnova,Kuznetsova,Popova,Volkova,Sokolova,Morozova,Orlova,Lebedeva,Novikova}', NULL),
    ('british',
     '{James,Oliver,Thomas,William,Daniel,Matthew,Michael,David,Charlotte,Emily,Sophie,Hannah,Laura,Rebecca,Sarah,Emma}', NULL,
     '{Smith,Johnson,Brown,Taylor,Wilson,Davies,Evans,Walker,Wright,Robinson,Clarke,Hughes,Bennett,Murphy,Campbell,Mitchell}', NULL),
    ('french',
     '{Pierre,Julien,Antoine,Nicolas,Mathieu,Camille,Chloe,Claire,Manon,Juliette}', NULL,
     '{Martin,Bernard,Dubois,Moreau,Laurent,Lefevre,Girard,Fontaine,Rousseau,Mercier}', NULL),
    ('german',
     '{Lukas,Felix,Jonas,Maximilian,Stefan,Katrin,Julia,Lena,Anna,Sabine}', NULL,
     '{Mueller,Schneider,Fischer,Weber,Wagner,Becker,Hoffmann,Koch,Richter,Wolf}', NULL),
    ('iranian',
     '{Ali,Reza,Mehdi,Amir,Hossein,Dariush,Maryam,Shirin,Neda,Parisa,Leila,Sara}', NULL,
     '{Ahmadi,Hosseini,Karimi,Rahimi,Moradi,Jafari,Rezaei,Tehrani,Farahani,Shirazi}', NULL),
    ('chinese',
     '{Wei,Jing,Hao,Ming,Mei,Lei,Yan,Jun,Ling,Xin}', NULL,
     '{Wang,Zhang,Liu,Chen,Yang,Huang,Zhao,Wu,Zhou,Xu}', NULL),
    ('filipino',
     '{Jose,Mark,Carlo,Angelica,Maria,Kristine,Joy,Ramon}', NULL,
     '{Santos,Reyes,Cruz,Bautista,Garcia,Mendoza,Flores,Villanueva}', NULL),
    ('african',
     '{Chinedu,Emeka,Oluwaseun,Tunde,Amina,Ngozi,Wanjiru,Brian}', NULL,
     '{Okafor,Adeyemi,Okonkwo,Balogun,Mwangi,Otieno,Eze,Abubakar}', NULL)
) AS v (pool, first_names, first_names_ar, last_names, last_names_ar);

-- which name pool(s) a nationality draws from
CREATE TEMP TABLE seed_nationality_pool ON COMMIT DROP AS
SELECT c AS nationality, v.pools
  FROM (VALUES
        ('{AE,SA,KW,QA,OM,BH}'::text[],       '{gulf}'::text[]),
        ('{EG,JO,LB,SY,PS,IQ}',               '{levant}'),
        ('{MA,TN,DZ}',                        '{maghreb}'),
        ('{IN}',                              '{indian}'),
        ('{PK}',                              '{pakistani}'),
        ('{RU,KZ,UA}',                        '{russian_m,russian_f}'),
        ('{GB,US,CA,AU,IE,ZA}',               '{british}'),
        ('{FR,BE}',                           '{french}'),
        ('{DE,CH}',                           '{german}'),
        ('{IR,AF}',                           '{iranian}'),
        ('{CN,SG,MY}',                        '{chinese}'),
        ('{PH}',                              '{filipino}'),
        ('{NG,KE}',                           '{african}')
       ) AS v (nationalities, pools)
 CROSS JOIN unnest(v.nationalities) AS c;

-- the lead plan: one row per lead (the duplicates are added below)
CREATE TEMP TABLE seed_lead ON COMMIT DROP AS
WITH slots AS (
    -- one row per lead of the quota, plus three fresh leads with their own wishes and no planned agent
    SELECT q.agent_key || '-' || q.stage || '-' || i AS lead_key, q.agent_key, q.agent_id, q.stage,
           s.languages, s.property_types, s.areas
      FROM seed_quota AS q
      JOIN seed_agent_spec AS s USING (agent_key)
     CROSS JOIN generate_series(1, q.cnt) AS i
    UNION ALL
    SELECT v.lead_key, NULL, NULL, 0, v.languages, v.property_types, v.areas
      FROM (VALUES
            ('routed-1', '{chinese}'::text[], '{apartment}'::crm.property_type[], '{dubai_creek_harbour,downtown_dubai}'::text[]),
            ('routed-2', '{russian}',         '{villa}',                          '{palm_jumeirah}'),
            ('routed-3', '{english}',         '{townhouse}',                      '{town_square,damac_hills}')
           ) AS v (lead_key, languages, property_types, areas)
),
who AS (
    SELECT s.*,
           row_number() OVER (ORDER BY s.lead_key)::integer AS n,
           -- the agent's first language twice: it is the one most of their clients speak
           pg_temp.pick(s.languages[1:1] || s.languages, s.lead_key || '/lang') AS language,
           pg_temp.pick(s.property_types, s.lead_key || '/type') AS property_type,
           -- sources rotate within each stage, so every stage sees every source
           (ARRAY['bayut', 'propertyFinder', 'bayut', 'website', 'dubizzle', 'propertyFinder',
                  'walk_in', 'bayut', 'referral', 'website'])
               [1 + (row_number() OVER (PARTITION BY s.stage ORDER BY pg_temp.h(s.lead_key)) - 1) % 10] AS source_type
      FROM slots AS s
),
nat AS (
    SELECT w.*, pg_temp.pick(ln.nationalities, w.lead_key || '/nat') AS nationality
      FROM who AS w
      JOIN seed_language_nationality AS ln USING (language)
),
named AS (
    SELECT t.*, p.pool,
           p.first_names[1 + pg_temp.h(t.lead_key || '/first') % cardinality(p.first_names)] AS first_latin,
           p.last_names[1 + pg_temp.h(t.lead_key || '/last') % cardinality(p.last_names)] AS last_latin,
           p.first_names_ar[1 + pg_temp.h(t.lead_key || '/first') % cardinality(p.first_names)] AS first_ar,
           p.last_names_ar[1 + pg_temp.h(t.lead_key || '/last') % cardinality(p.last_names)] AS last_ar
      FROM nat AS t
      JOIN seed_nationality_pool AS np USING (nationality)
      JOIN seed_name_pool AS p ON p.pool = pg_temp.pick(np.pools, t.lead_key || '/pool')
),
timed AS (
    SELECT d.*,
           -- age at capture, by stage: new leads are hours old, converted ones months old
           CASE WHEN d.lead_key LIKE 'routed-%' THEN interval '20 minutes' + pg_temp.frac(d.lead_key || '/age') * interval '90 minutes'
                WHEN d.stage = 0 THEN interval '2 hours' + pg_temp.frac(d.lead_key || '/age') * interval '68 hours'
                ELSE (ARRAY[0, 2, 6, 10, 15, 35, 8])[d.stage + 1] * interval '1 day'
                     + pg_temp.frac(d.lead_key || '/age')
                       * ((ARRAY[0, 25, 45, 60, 90, 120, 118])[d.stage + 1] - (ARRAY[0, 2, 6, 10, 15, 35, 8])[d.stage + 1])
                       * interval '1 day'
           END AS age,
           -- the furthest open stage reached; lost leads fell out at a stage of their own
           CASE WHEN d.stage = 5 THEN 4
                WHEN d.stage = 6 THEN pg_temp.h(d.lead_key || '/lost') % 5
                ELSE d.stage END AS reach
      FROM named AS d
)
SELECT CASE WHEN t.lead_key NOT LIKE 'routed-%' THEN md5('lead-' || t.lead_key)::uuid END AS lead_id, t.lead_key, t.n, t.agent_key, t.agent_id, t.stage, t.reach,
       t.source_type, t.language, t.nationality, t.property_type, t.pool,
       -- a third of the Arab clients typed their name in Arabic script
       CASE WHEN t.first_ar IS NOT NULL AND pg_temp.h(t.lead_key || '/script') % 3 = 0 THEN t.first_ar ELSE t.first_latin END AS first_name,
       CASE WHEN t.last_ar IS NOT NULL AND pg_temp.h(t.lead_key || '/script') % 3 = 0 THEN t.last_ar ELSE t.last_latin END AS last_name,
       t.first_latin, t.last_latin,
       -- phones: unique by construction ((n * 7919 + c) mod 9e6 is one-to-one); a quarter of some
       -- nationalities keep their home mobile number
       CASE WHEN pg_temp.h(t.lead_key || '/intl') % 4 = 0 AND t.nationality IN ('GB', 'RU', 'IN', 'SA', 'CN') THEN
                CASE t.nationality
                     WHEN 'GB' THEN '+447'  || body7 || lpad((t.n % 100)::text, 2, '0')
                     WHEN 'RU' THEN '+79'   || body7 || lpad((t.n % 100)::text, 2, '0')
                     WHEN 'IN' THEN '+919'  || body7 || lpad((t.n % 100)::text, 2, '0')
                     WHEN 'SA' THEN '+9665' || pg_temp.pick('{0,4,5}'::text[], t.lead_key || '/pfx') || body7
                     ELSE           '+8613' || body7 || lpad((t.n % 100)::text, 2, '0')
                END
            ELSE '+9715' || pg_temp.pick('{0,2,4,5,6,8}'::text[], t.lead_key || '/pfx') || body7
       END AS phone,
       -- no e-mail for half the walk-ins and a few others
       CASE WHEN (t.source_type = 'walk_in' AND pg_temp.h(t.lead_key || '/mail') % 2 = 0)
                 OR pg_temp.h(t.lead_key || '/mail') % 12 = 0 THEN NULL
            ELSE lower(regexp_replace(t.first_latin, '[^A-Za-z]', '', 'g') || '.' || regexp_replace(t.last_latin, '[^A-Za-z]', '', 'g')
                       || CASE WHEN pg_temp.h(t.lead_key || '/mail') % 3 = 0 THEN (10 + pg_temp.h(t.lead_key || '/mail') % 89)::text ELSE '' END
                       || '@' || pg_temp.pick(CASE t.pool
                                                  WHEN 'russian_m' THEN '{mail.ru,yandex.ru,gmail.com}'::text[]
                                                  WHEN 'russian_f' THEN '{mail.ru,yandex.ru,gmail.com}'::text[]
                                                  WHEN 'chinese'   THEN '{qq.com,163.com,gmail.com}'::text[]
                                                  WHEN 'gulf'      THEN '{gmail.com,hotmail.com,outlook.com,icloud.com}'::text[]
                                                  ELSE '{gmail.com,outlook.com,yahoo.com,hotmail.com,icloud.com}'::text[]
                                              END, t.lead_key || '/domain'))
       END AS email,
       -- budgets: log-spread within a band that fits the property type, rounded to 50k AED; half the walk-ins
       -- name none (they score low, and some of them buy)
       CASE WHEN pg_temp.h(t.lead_key || '/nomin') % 10 = 0 OR no_budget THEN NULL ELSE budget_min END AS budget_min,
       CASE WHEN NOT no_budget
            THEN round(budget_min * (1.15 + 0.40 * pg_temp.frac(t.lead_key || '/spread')) / 50000) * 50000 END AS budget_max,
       -- preferred areas: one or two the agent covers
       ARRAY(SELECT DISTINCT a FROM unnest(ARRAY[pg_temp.pick(t.areas, t.lead_key || '/area1'),
                                                CASE WHEN pg_temp.h(t.lead_key || '/area2') % 2 = 0
                                                     THEN pg_temp.pick(t.areas, t.lead_key || '/area2') END]) AS a
              WHERE a IS NOT NULL) AS areas,
       date_trunc('second', now() - t.age) AS created_at,
       CASE WHEN t.stage IN (5, 6)
            THEN date_trunc('second', now() - t.age + t.age * (0.55 + 0.35 * pg_temp.frac(t.lead_key || '/closed')))
       END AS closed_at,
       CASE WHEN t.stage = 6 THEN
            pg_temp.pick(CASE t.reach
                             WHEN 0 THEN '{"Unreachable: wrong number and no reply on WhatsApp","Spam inquiry, not a real buyer"}'::text[]
                             WHEN 1 THEN '{"No response after several follow-ups","Only browsing, no plans to buy this year"}'::text[]
                             WHEN 2 THEN '{"Budget too low for the requested area","Mortgage pre-approval declined"}'::text[]
                             WHEN 3 THEN '{"Did not like the units viewed","Bought through another agency"}'::text[]
                             ELSE        '{"Seller rejected the final offer","Bought off-plan directly from the developer"}'::text[]
                         END, t.lead_key || '/reason')
       END AS lost_reason,
       NULL::text AS duplicate_of_key,
       t.lead_key LIKE 'routed-%' AS routed,
       t.age
  FROM timed AS t
 CROSS JOIN LATERAL (SELECT (((t.n * 7919 + 130817) % 9000000) + 1000000)::text AS body7,
                            t.source_type = 'walk_in' AND pg_temp.h(t.lead_key || '/nobudget') % 2 = 0 AS no_budget) AS ph
 CROSS JOIN LATERAL (
        SELECT round(lo * power(hi / lo, pg_temp.frac(t.lead_key || '/budget')) / 50000) * 50000 AS budget_min
          FROM (SELECT CASE t.property_type WHEN 'apartment' THEN 550000.0 WHEN 'villa' THEN 3500000.0
                                            WHEN 'townhouse' THEN 1500000.0 ELSE 1000000.0 END AS lo,
                       CASE t.property_type WHEN 'apartment' THEN 3800000.0 WHEN 'villa' THEN 30000000.0
                                            WHEN 'townhouse' THEN 3800000.0 ELSE 9000000.0 END AS hi) AS band
       ) AS b;

-- two different people may draw the same e-mail: the later one gets a number in it
UPDATE seed_lead AS s
   SET email = replace(s.email, '@', s.n || '@')
  FROM (SELECT lead_key, row_number() OVER (PARTITION BY email ORDER BY n) AS rn
          FROM seed_lead WHERE email IS NOT NULL) AS d
 WHERE d.lead_key = s.lead_key AND d.rn > 1;

-- cross-source duplicates: the same person again from another source, 3 to 21 hours later (capture routes them to
-- the agent of the earlier lead); two were closed as duplicates two hours later
INSERT INTO seed_lead (lead_id, lead_key, n, agent_key, agent_id, stage, reach, source_type, language, nationality,
                       property_type, pool, first_name, last_name, first_latin, last_latin, phone, email,
                       budget_min, budget_max, areas, created_at, closed_at, lost_reason, duplicate_of_key, routed, age)
SELECT NULL, d.lead_key, (SELECT max(n) FROM seed_lead) + d.dup_no, o.agent_key, o.agent_id,
       d.stage, CASE WHEN d.stage = 6 THEN 0 ELSE d.stage END,
       (array_remove('{website,bayut,propertyFinder,walk_in,dubizzle}'::text[], o.source_type))[1 + d.dup_no % 4],
       o.language, o.nationality, o.property_type, o.pool, o.first_name, o.last_name, o.first_latin, o.last_latin,
       o.phone, o.email, o.budget_min, o.budget_max, o.areas,
       o.created_at + d.hours_after * interval '1 hour',
       CASE WHEN d.stage = 6 THEN o.created_at + (d.hours_after + 2) * interval '1 hour' END,
       CASE WHEN d.stage = 6 THEN 'Duplicate inquiry: the client is handled on the earlier lead' END,
       o.lead_key, false, o.age - d.hours_after * interval '1 hour'
  FROM (VALUES
        (1, 'dup-1', 'priya.nair-1-1',        3, 1),
        (2, 'dup-2', 'fatima.alsuwaidi-2-1',  7, 6),
        (3, 'dup-3', 'james.whitaker-3-1',   11, 6),
        (4, 'dup-4', 'mariam.abdullah-1-2',  16, 1),
        (5, 'dup-5', 'youssef.elamrani-4-1', 21, 2)
       ) AS d (dup_no, lead_key, original_key, hours_after, stage)
  JOIN seed_lead AS o ON o.lead_key = d.original_key;

-- what the portal or the form sent with the lead: the portal's own lead id, the marketing attribution, the listing
-- the lead came from (two in three portal and website leads: the closest listing in price of the wanted type, in a
-- preferred area when there is one), and for referrals the agent who referred the client
ALTER TABLE seed_lead ADD COLUMN external_id text, ADD COLUMN campaign_id text, ADD COLUMN utm_source text,
                      ADD COLUMN utm_medium text, ADD COLUMN source_property_id uuid, ADD COLUMN referrer_agent_id uuid;
UPDATE seed_lead AS p
   SET external_id = CASE p.source_type WHEN 'bayut'          THEN 'BYT-' || (5180000 + p.n * 37)
                                        WHEN 'propertyFinder' THEN 'PF-L' || (330000 + p.n * 53)
                                        WHEN 'dubizzle'       THEN 'DBZ-' || (91000000 + p.n * 911) END,
       campaign_id = CASE p.source_type
                          WHEN 'bayut'          THEN pg_temp.pick(ARRAY['bayut-featured-' || p.property_type, 'bayut-truecheck-listings', 'bayut-premium-' || p.areas[1]], p.lead_key || '/cmp')
                          WHEN 'propertyFinder' THEN pg_temp.pick(ARRAY['pf-premium-' || p.property_type, 'pf-featured-agent', 'pf-new-projects'], p.lead_key || '/cmp')
                          WHEN 'dubizzle'       THEN pg_temp.pick(ARRAY['dbz-boost-' || p.property_type, 'dbz-featured-ads'], p.lead_key || '/cmp')
                          WHEN 'website'        THEN (ARRAY['web-google-search-' || p.property_type, 'web-meta-offplan', 'web-meta-offplan',
                                                            'web-newsletter-monthly', NULL])[1 + pg_temp.h(p.lead_key || '/web') % 5]
                     END,
       utm_source = CASE p.source_type
                         WHEN 'bayut' THEN 'bayut' WHEN 'propertyFinder' THEN 'propertyfinder' WHEN 'dubizzle' THEN 'dubizzle'
                         WHEN 'website' THEN (ARRAY['google', 'instagram', 'facebook', 'newsletter', 'google'])[1 + pg_temp.h(p.lead_key || '/web') % 5]
                    END,
       utm_medium = CASE WHEN p.source_type IN ('bayut', 'propertyFinder', 'dubizzle') THEN 'portal'
                         WHEN p.source_type = 'website' THEN (ARRAY['cpc', 'social', 'social', 'email', 'organic'])[1 + pg_temp.h(p.lead_key || '/web') % 5]
                    END,
       source_property_id = (
            SELECT pr.property_id
              FROM crm.properties AS pr
             WHERE p.source_type IN ('bayut', 'propertyFinder', 'dubizzle', 'website')
               AND pg_temp.h(p.lead_key || '/listing') % 3 <> 0
               AND pr.property_type = p.property_type
               AND pr.reference LIKE 'TR-%'
             ORDER BY (pr.area_code = ANY (p.areas)) DESC,
                      abs(pr.price_aed - coalesce((p.budget_min + p.budget_max) / 2, p.budget_max)), pr.reference
             LIMIT 1),
       referrer_agent_id = CASE WHEN p.source_type = 'referral' THEN md5('agent-' || pg_temp.pick(array_remove(
                     '{khalid.almansoori,sarah.thompson,omar.haddad,fatima.alsuwaidi,youssef.elamrani,mariam.abdullah,sultan.alketbi,reza.tehrani,priya.nair,elena.petrova,james.whitaker,li.wei,ahmed.raza,hannah.schmidt}'::text[],
                     p.agent_key), p.lead_key || '/referrer'))::uuid END;

-- Maria Santos (inactive now) worked some of Priya Nair's older open leads until she left the company 40 days ago;
-- 40_history.sql captures them for Maria and, on the day she leaves, a supervisor hands them over to Priya.
-- (Chosen by age, which depends on the lead key only, so every run picks the same leads.)
ALTER TABLE seed_lead ADD COLUMN first_agent_id uuid;
UPDATE seed_lead SET first_agent_id = agent_id;
UPDATE seed_lead AS p SET first_agent_id = md5('agent-maria.santos')::uuid
 WHERE p.lead_key IN (SELECT x.lead_key FROM seed_lead AS x
                       WHERE x.agent_key = 'priya.nair' AND x.stage BETWEEN 1 AND 4 AND x.age > interval '42 days'
                         AND x.duplicate_of_key IS NULL
                       ORDER BY x.lead_key LIMIT 4);
CREATE TEMP TABLE seed_handover ON COMMIT DROP AS
SELECT date_trunc('hour', now() - interval '40 days') AS handed_over_at,
       md5('agent-maria.santos')::uuid AS from_agent_id, md5('agent-priya.nair')::uuid AS to_agent_id;

-- Where each open lead stands at the end, and so when its agent last touched it and when the follow-up booked then
-- is due: most are due in the coming working days; some were missed by days or weeks; a few were missed by more
-- than 30 days (the escalation sweep hands those to a supervisor). A new lead under six hours old is untouched; an
-- older one had a first call nobody answered, and a call-back is booked for the coming days.
ALTER TABLE seed_lead ADD COLUMN bucket text, ADD COLUMN last_touch_at timestamptz, ADD COLUMN tail_at timestamptz;
UPDATE seed_lead AS p
   SET bucket = b.bucket,
       tail_at = CASE b.bucket WHEN 'upcoming' THEN date_trunc('minute', now()) + (1 + pg_temp.h(p.lead_key || '/tail') % 5) * interval '1 day'
                               ELSE date_trunc('minute', now()) - b.missed_days * interval '1 day'
                                    - pg_temp.frac(p.lead_key || '/tailh') * interval '8 hours' END,
       last_touch_at = CASE b.bucket WHEN 'upcoming'
                                     THEN now() - least(0.25 + 2.5 * pg_temp.frac(p.lead_key || '/touch'),
                                                        0.3 * extract(epoch FROM p.age) / 86400) * interval '1 day'
                                     ELSE now() - (b.missed_days + 1 + pg_temp.h(p.lead_key || '/touch') % 2) * interval '1 day' END
  FROM (SELECT x.lead_key, x.bucket,
               CASE x.bucket WHEN 'escalated'     THEN 31 + pg_temp.h(x.lead_key || '/missed') % 12
                             WHEN 'overdue_weeks' THEN least(8 + pg_temp.h(x.lead_key || '/missed') % 17, x.age_days - 5)
                             WHEN 'overdue_days'  THEN least(1 + pg_temp.h(x.lead_key || '/missed') % 6, x.age_days - 3)
               END AS missed_days
          FROM (SELECT s.lead_key, extract(day FROM s.age)::integer AS age_days,
                       CASE WHEN s.age > interval '52 days' AND pg_temp.h(s.lead_key || '/task') % 3 = 0 THEN 'escalated'
                            WHEN s.age > interval '23 days' AND pg_temp.h(s.lead_key || '/task') % 3 = 1 THEN 'overdue_weeks'
                            WHEN s.age > interval '7 days'  AND pg_temp.h(s.lead_key || '/task') % 4 = 2 THEN 'overdue_days'
                            ELSE 'upcoming' END AS bucket
                  FROM seed_lead AS s WHERE s.stage BETWEEN 1 AND 4) AS x) AS b
 WHERE b.lead_key = p.lead_key;
UPDATE seed_lead
   SET bucket = CASE WHEN age < interval '6 hours' THEN 'untouched' ELSE 'call_back' END,
       tail_at = CASE WHEN age >= interval '6 hours'
                      THEN date_trunc('minute', now()) + interval '2 hours' + pg_temp.frac(lead_key || '/tail') * interval '2 days' END
 WHERE stage = 0;

-- the interactions, stage by stage: one or two for every stage a lead went through, the first of each moving the
-- status on; converted and lost leads end with the interaction that closed them. Arabic-speaking clients get about
-- half of their notes in Arabic.
CREATE TEMP TABLE seed_activity_template ON COMMIT DROP AS
SELECT * FROM (VALUES
    -- stage 0: a first call that nobody answered (the lead stays new)
    (0, 1, 'call',       'neutral',  NULL::crm.lead_status, 'No answer; left a voicemail and a WhatsApp message.',
                                     'لم يرد العميل؛ تركنا رسالة صوتية ورسالة واتساب.'),
    -- stage 1: first contact
    (1, 1, 'call',       'positive', 'contacted',  'First call: introduced the agency and confirmed what the client is looking for.',
                                     'المكالمة الأولى: عرّفنا العميل بالشركة وتأكدنا من متطلباته.'),
    (1, 2, 'whatsapp',   'neutral',  NULL,         'Sent a shortlist of matching listings on WhatsApp.',
                                     'أرسلنا قائمة مختصرة بالعقارات المناسبة عبر واتساب.'),
    -- stage 2: qualification
    (2, 1, 'call',       'positive', 'qualified',  'Qualification call: budget, financing and move-in date confirmed.',
                                     'مكالمة تأهيل: تم تأكيد الميزانية والتمويل وموعد الانتقال.'),
    (2, 2, 'email',      'neutral',  NULL,         'Emailed floor plans, service charges and payment plan options.',
                                     'أرسلنا بالبريد الإلكتروني المخططات ورسوم الخدمة وخيارات خطة الدفع.'),
    -- stage 3: viewing
    (3, 1, 'viewing',    'positive', 'viewing_scheduled', 'Viewing done; the client liked the layout and the view.',
                                     'تمت المعاينة؛ أعجب العميل بالتصميم والإطلالة.'),
    (3, 2, 'meeting',    'neutral',  NULL,         'Office meeting to compare the shortlisted units.',
                                     'اجتماع في المكتب لمقارنة الوحدات المختارة.'),
    -- stage 4: negotiation
    (4, 1, 'offer_made', 'positive', 'negotiation', 'Offer submitted to the seller below the asking price.',
                                     'قدّمنا للبائع عرضاً أقل من السعر المطلوب.'),
    (4, 2, 'call',       'neutral',  NULL,         'Seller countered; discussing the price and the handover date.',
                                     'ردّ البائع بعرض مقابل؛ نتفاوض على السعر وموعد التسليم.'),
    -- stage 5: converted
    (5, 1, 'meeting',    'positive', 'converted',  'MOU signed and the deposit cheque collected.',
                                     'تم توقيع مذكرة التفاهم واستلام شيك العربون.'),
    -- stage 6: lost (a lead lost before any contact gets a note, not a call)
    (6, 1, 'call',       'negative', 'lost',       NULL,
                                     'العميل لن يكمل الشراء؛ سيتم إغلاق الطلب.')
) AS v (stage, seq, activity_type, outcome, status_to, note_en, note_ar);

-- seed_step: each lead's interactions in order, with the time each is wanted at. The first comes 6 minutes to 20
-- hours after capture (at most a quarter of the lead's active life); the others are spread evenly until the lead
-- closed, or until its agent last touched it. 40_history.sql runs a step at the follow-up booked for it when there
-- is one, so a wanted time is where the agent books it, not necessarily when it happens.
CREATE TEMP TABLE seed_step ON COMMIT DROP AS
WITH chosen AS (
    SELECT p.lead_key, t.stage, t.seq, p.stage AS lead_stage, p.reach, p.language, p.lost_reason,
           CASE WHEN t.stage = 6 AND p.reach = 0 THEN 'note' ELSE t.activity_type END::crm.activity_type AS activity_type,
           CASE WHEN t.stage = 1 AND t.seq = 1 THEN pg_temp.pick('{positive,neutral,positive}'::text[], p.lead_key || '/o1')
                WHEN t.stage = 6 AND p.reach = 0 THEN NULL
                ELSE t.outcome END::crm.activity_outcome AS outcome,
           t.status_to,
           CASE WHEN p.language = 'arabic' AND pg_temp.h(p.lead_key || '/ar') % 2 = 0 THEN t.note_ar
                WHEN t.stage = 6 THEN 'Closing the lead: ' || p.lost_reason || '.'
                ELSE t.note_en END AS notes,
           t.stage IN (5, 6) AS closes,
           p.created_at, coalesce(p.closed_at, p.last_touch_at, p.created_at + interval '20 hours') AS end_at
      FROM seed_lead AS p
      JOIN seed_activity_template AS t
        ON (t.stage = 0 AND ((p.stage = 0 AND p.bucket = 'call_back') OR (p.stage = 6 AND p.reach = 0
                                                                            AND p.duplicate_of_key IS NULL)))
        OR (t.stage BETWEEN 1 AND 4 AND t.stage <= p.reach
            AND (t.seq = 1 OR pg_temp.h(p.lead_key || '/a' || t.stage) % 3 <> 0))
        OR (t.stage = 5 AND p.stage = 5)
        OR (t.stage = 6 AND p.stage = 6)
     WHERE NOT p.routed
),
numbered AS (
    SELECT c.*,
           row_number() OVER (PARTITION BY c.lead_key ORDER BY c.stage, c.seq)::integer AS step_no,
           count(*) FILTER (WHERE NOT c.closes) OVER (PARTITION BY c.lead_key) AS m,
           bool_or(c.closes) OVER (PARTITION BY c.lead_key) AS lead_closes
      FROM chosen AS c
)
SELECT n.lead_key, n.step_no, n.stage, n.activity_type, n.outcome, n.status_to, n.notes, n.closes,
       n.step_no = max(n.step_no) OVER (PARTITION BY n.lead_key) AS last_step,
       CASE WHEN n.closes THEN n.end_at
            ELSE date_trunc('second', n.created_at + r.resp
                 + (n.end_at - n.created_at - r.resp)
                   * ((n.step_no - 1)::double precision / greatest(n.m - CASE WHEN n.lead_closes THEN 0 ELSE 1 END, 1)))
       END AS wanted_at
  FROM numbered AS n
 CROSS JOIN LATERAL (
        SELECT least((n.end_at - n.created_at) / 4,
                     interval '6 minutes' + pg_temp.frac(n.lead_key || '/resp') * interval '20 hours') AS resp
       ) AS r;
CREATE UNIQUE INDEX ON seed_step (lead_key, step_no);
