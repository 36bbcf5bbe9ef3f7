-- 0002 reference tables: the policy a manager changes with an UPDATE (rules are data).
-- The rows here are the system's baseline policy (the brief's values), so every environment,
-- production included, can score, route and check transitions without the demo seed.

CREATE TABLE crm.lead_sources (
    source_type   text PRIMARY KEY CONSTRAINT lead_sources_source_type_format CHECK (source_type ~ '^[a-z][A-Za-z_]{1,39}$'),
    display_name  text NOT NULL,
    quality_score smallint NOT NULL CONSTRAINT lead_sources_quality_score_range CHECK (quality_score BETWEEN 0 AND 100),
    is_portal     boolean NOT NULL DEFAULT false,
    is_active     boolean NOT NULL DEFAULT true,
    description   text,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE crm.lead_sources IS 'Where leads come from, with the source-quality figure the scoring engine uses.';
COMMENT ON COLUMN crm.lead_sources.source_type IS 'Key used by the API (bayut, propertyFinder, dubizzle, website, walk_in, referral).';
COMMENT ON COLUMN crm.lead_sources.quality_score IS 'Source quality 0-100 (brief: Bayut 90, PropertyFinder 85, Website 80); multiplied by the source_quality scoring rule''s weight.';
COMMENT ON COLUMN crm.lead_sources.is_portal IS 'True for listing portals that send leads by webhook and carry their own external lead id.';
COMMENT ON COLUMN crm.lead_sources.is_active IS 'Inactive sources are refused at capture.';

INSERT INTO crm.lead_sources (source_type, display_name, quality_score, is_portal, description) VALUES
    ('bayut',          'Bayut',          90, true,  'Portal; the brief rates it 90.'),
    ('propertyFinder', 'PropertyFinder', 85, true,  'Portal; the brief rates it 85.'),
    ('dubizzle',       'Dubizzle',       75, true,  'Classifieds portal: broader, less qualified audience than Bayut/PropertyFinder.'),
    ('website',        'Website',        80, false, 'Our own website form; the brief rates it 80.'),
    ('referral',       'Referral',       85, false, 'Referred by a client or agent; the referral rule adds a bonus on top.'),
    ('walk_in',        'Walk-in',        70, false, 'Visitor at the office: high intent but often early-stage browsing.');

CREATE TABLE crm.languages (
    language     text PRIMARY KEY CONSTRAINT languages_language_format CHECK (language ~ '^[a-z]{2,20}$'),
    iso_code     text NOT NULL UNIQUE CONSTRAINT languages_iso_code_format CHECK (iso_code ~ '^[a-z]{2}$'),
    display_name text NOT NULL,
    native_name  text NOT NULL
);
COMMENT ON TABLE crm.languages IS 'Languages a lead may prefer and an agent may speak. The key is the lower-case English name used by the API.';

INSERT INTO crm.languages (language, iso_code, display_name, native_name) VALUES
    ('arabic',   'ar', 'Arabic',   'العربية'),
    ('english',  'en', 'English',  'English'),
    ('hindi',    'hi', 'Hindi',    'हिन्दी'),
    ('urdu',     'ur', 'Urdu',     'اردو'),
    ('russian',  'ru', 'Russian',  'Русский'),
    ('french',   'fr', 'French',   'Français'),
    ('farsi',    'fa', 'Farsi',    'فارسی'),
    ('chinese',  'zh', 'Chinese',  '中文'),
    ('german',   'de', 'German',   'Deutsch'),
    ('malayalam','ml', 'Malayalam','മലയാളം'),
    ('tagalog',  'tl', 'Tagalog',  'Tagalog'),
    ('spanish',  'es', 'Spanish',  'Español'),
    ('italian',  'it', 'Italian',  'Italiano'),
    ('turkish',  'tr', 'Turkish',  'Türkçe');

CREATE TABLE crm.areas (
    area_code text PRIMARY KEY CONSTRAINT areas_area_code_format CHECK (area_code ~ '^[a-z0-9_]{2,40}$'),
    name      text NOT NULL UNIQUE,
    emirate   text NOT NULL DEFAULT 'Dubai',
    aliases   text[] NOT NULL DEFAULT '{}'
);
COMMENT ON TABLE crm.areas IS 'Dubai communities used for lead preferences, agent specialisation and listings.';
COMMENT ON COLUMN crm.areas.aliases IS 'Other spellings clients use (lower case), e.g. "marina" for Dubai Marina; matched exactly, never by substring.';

INSERT INTO crm.areas (area_code, name, aliases) VALUES
    ('downtown_dubai',       'Downtown Dubai',           '{downtown,"downtown dubai","burj khalifa"}'),
    ('dubai_marina',         'Dubai Marina',             '{marina,"dubai marina"}'),
    ('jbr',                  'Jumeirah Beach Residence', '{jbr,"jumeirah beach residence"}'),
    ('palm_jumeirah',        'Palm Jumeirah',            '{palm,"the palm","palm jumeirah"}'),
    ('business_bay',         'Business Bay',             '{"business bay"}'),
    ('jlt',                  'Jumeirah Lake Towers',     '{jlt,"jumeirah lake towers","jumeirah lakes towers"}'),
    ('jvc',                  'Jumeirah Village Circle',  '{jvc,"jumeirah village circle"}'),
    ('dubai_hills',          'Dubai Hills Estate',       '{"dubai hills","dubai hills estate"}'),
    ('arabian_ranches',      'Arabian Ranches',          '{"arabian ranches"}'),
    ('emirates_hills',       'Emirates Hills',           '{"emirates hills"}'),
    ('difc',                 'DIFC',                     '{difc,"dubai international financial centre"}'),
    ('dubai_creek_harbour',  'Dubai Creek Harbour',      '{"creek harbour","dubai creek harbour"}'),
    ('al_barsha',            'Al Barsha',                '{barsha,"al barsha"}'),
    ('mirdif',               'Mirdif',                   '{mirdif,mirdiff}'),
    ('deira',                'Deira',                    '{deira}'),
    ('jumeirah',             'Jumeirah',                 '{jumeirah}'),
    ('dubai_south',          'Dubai South',              '{"dubai south"}'),
    ('damac_hills',          'DAMAC Hills',              '{"damac hills"}'),
    ('town_square',          'Town Square',              '{"town square"}'),
    ('city_walk',            'City Walk',                '{"city walk"}');

CREATE TABLE crm.countries (
    country_code char(2) PRIMARY KEY CONSTRAINT countries_country_code_format CHECK (country_code ~ '^[A-Z]{2}$'),
    name         text NOT NULL UNIQUE,
    is_gcc       boolean NOT NULL DEFAULT false
);
COMMENT ON TABLE crm.countries IS 'Nationalities (ISO 3166-1 alpha-2). is_gcc drives the GCC scoring rule.';

CREATE TABLE crm.country_aliases (
    alias        text PRIMARY KEY CONSTRAINT country_aliases_lower_case CHECK (alias = lower(btrim(alias))),
    country_code char(2) NOT NULL REFERENCES crm.countries (country_code)
);
COMMENT ON TABLE crm.country_aliases IS
    'Exact, lower-case spellings of a nationality ("uae", "emirati", "united arab emirates") mapped to its country. '
    'Lookup is by equality, never substring, so "romanian" can never match "oman".';
CREATE INDEX country_aliases_country_code_idx ON crm.country_aliases (country_code);

INSERT INTO crm.countries (country_code, name, is_gcc) VALUES
    ('AE', 'United Arab Emirates', true), ('SA', 'Saudi Arabia', true), ('KW', 'Kuwait', true),
    ('QA', 'Qatar', true), ('BH', 'Bahrain', true), ('OM', 'Oman', true),
    ('EG', 'Egypt', false), ('JO', 'Jordan', false), ('LB', 'Lebanon', false), ('SY', 'Syria', false),
    ('IQ', 'Iraq', false), ('PS', 'Palestine', false), ('MA', 'Morocco', false), ('TN', 'Tunisia', false),
    ('DZ', 'Algeria', false), ('SD', 'Sudan', false), ('YE', 'Yemen', false), ('IR', 'Iran', false),
    ('TR', 'Turkey', false), ('IN', 'India', false), ('PK', 'Pakistan', false), ('BD', 'Bangladesh', false),
    ('LK', 'Sri Lanka', false), ('NP', 'Nepal', false), ('PH', 'Philippines', false), ('CN', 'China', false),
    ('RU', 'Russia', false), ('UA', 'Ukraine', false), ('KZ', 'Kazakhstan', false), ('GB', 'United Kingdom', false),
    ('IE', 'Ireland', false), ('FR', 'France', false), ('DE', 'Germany', false), ('IT', 'Italy', false),
    ('ES', 'Spain', false), ('NL', 'Netherlands', false), ('BE', 'Belgium', false), ('CH', 'Switzerland', false),
    ('SE', 'Sweden', false), ('NO', 'Norway', false), ('RO', 'Romania', false), ('PL', 'Poland', false),
    ('US', 'United States', false), ('CA', 'Canada', false), ('AU', 'Australia', false), ('NZ', 'New Zealand', false),
    ('ZA', 'South Africa', false), ('NG', 'Nigeria', false), ('KE', 'Kenya', false), ('SG', 'Singapore', false),
    ('MY', 'Malaysia', false), ('ID', 'Indonesia', false), ('JP', 'Japan', false), ('KR', 'South Korea', false),
    ('BR', 'Brazil', false), ('AF', 'Afghanistan', false), ('AZ', 'Azerbaijan', false), ('UZ', 'Uzbekistan', false);

-- every country by its code and its name, then the common demonyms and abbreviations
INSERT INTO crm.country_aliases (alias, country_code)
SELECT lower(country_code), country_code FROM crm.countries
UNION
SELECT lower(name), country_code FROM crm.countries;

INSERT INTO crm.country_aliases (alias, country_code) VALUES
    ('uae', 'AE'), ('emirati', 'AE'), ('emirates', 'AE'), ('u.a.e.', 'AE'), ('the united arab emirates', 'AE'),
    ('ksa', 'SA'), ('saudi', 'SA'), ('saudi arabian', 'SA'), ('kuwaiti', 'KW'), ('qatari', 'QA'),
    ('bahraini', 'BH'), ('omani', 'OM'), ('egyptian', 'EG'), ('jordanian', 'JO'), ('lebanese', 'LB'),
    ('syrian', 'SY'), ('iraqi', 'IQ'), ('palestinian', 'PS'), ('moroccan', 'MA'), ('tunisian', 'TN'),
    ('algerian', 'DZ'), ('sudanese', 'SD'), ('yemeni', 'YE'), ('iranian', 'IR'), ('turkish', 'TR'),
    ('türkiye', 'TR'), ('indian', 'IN'), ('pakistani', 'PK'), ('bangladeshi', 'BD'), ('sri lankan', 'LK'),
    ('nepali', 'NP'), ('nepalese', 'NP'), ('filipino', 'PH'), ('filipina', 'PH'), ('chinese', 'CN'),
    ('russian', 'RU'), ('russian federation', 'RU'), ('ukrainian', 'UA'), ('kazakh', 'KZ'),
    ('british', 'GB'), ('uk', 'GB'), ('english', 'GB'), ('great britain', 'GB'), ('irish', 'IE'),
    ('french', 'FR'), ('german', 'DE'), ('italian', 'IT'), ('spanish', 'ES'), ('dutch', 'NL'),
    ('belgian', 'BE'), ('swiss', 'CH'), ('swedish', 'SE'), ('norwegian', 'NO'), ('romanian', 'RO'),
    ('polish', 'PL'), ('american', 'US'), ('usa', 'US'), ('u.s.', 'US'), ('canadian', 'CA'),
    ('australian', 'AU'), ('new zealander', 'NZ'), ('south african', 'ZA'), ('nigerian', 'NG'),
    ('kenyan', 'KE'), ('singaporean', 'SG'), ('malaysian', 'MY'), ('indonesian', 'ID'),
    ('japanese', 'JP'), ('korean', 'KR'), ('south korean', 'KR'), ('brazilian', 'BR'), ('afghan', 'AF'),
    ('azerbaijani', 'AZ'), ('uzbek', 'UZ'),
    ('إماراتي', 'AE'), ('الإمارات', 'AE'), ('سعودي', 'SA'), ('كويتي', 'KW'), ('قطري', 'QA'),
    ('بحريني', 'BH'), ('عماني', 'OM'), ('مصري', 'EG')
ON CONFLICT (alias) DO NOTHING;

CREATE TABLE crm.settings (
    setting_key text PRIMARY KEY,
    value       jsonb NOT NULL,
    description text NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    updated_by  text NOT NULL DEFAULT current_user
);
COMMENT ON TABLE crm.settings IS 'Tunable policy (SLA durations, windows, thresholds). Read by the rules at call time: an UPDATE takes effect on the next call.';

INSERT INTO crm.settings (setting_key, value, description) VALUES
    ('timezone',                     '"Asia/Dubai"', 'Business time zone: day/month boundaries and business hours.'),
    ('business_hours',               '{"start": "09:00", "end": "19:00", "days": [1, 2, 3, 4, 5, 6]}',
                                     'Working hours for follow-ups; days are ISO weekdays (1 = Monday). Sunday is off.'),
    ('duplicate_window',             '"24 hours"', 'Same phone from another source within this window is linked to the earlier lead.'),
    ('no_response_reassign_after',   '"24 hours"', 'An assigned lead with no agent activity for this long is reassigned automatically.'),
    ('no_response_decay_after',      '"7 days"',   'Silence that costs a lead the no_response_7d score penalty, once per silence.'),
    ('follow_up_escalate_after',     '"30 days"',  'An open follow-up overdue by more than this is escalated to a supervisor.'),
    ('follow_up_default_duration',   '"30 minutes"', 'Length of a follow-up slot when none is given; slots of one agent may not overlap.'),
    ('sla_hot_lead',                 '{"min_score": 80, "within": "1 hour", "priority": "high", "task_type": "call"}',
                                     'Hot leads: first follow-up within the hour, even outside business hours.'),
    ('sla_warm_lead',                '{"min_score": 50, "within": "4 hours", "priority": "medium", "task_type": "call"}',
                                     'Warm leads: first follow-up within 4 business hours.'),
    ('sla_cold_lead',                '{"min_score": 0, "within": "24 hours", "priority": "low", "task_type": "whatsapp"}',
                                     'Cold leads: first follow-up within one business day.'),
    ('workload_balance_threshold',   '45', 'Agents above this many active leads shed open leads to less loaded agents in the balancing sweep.');

CREATE TABLE crm.lead_scoring_rules (
    rule_id     integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    rule_key    text NOT NULL UNIQUE,
    factor      text NOT NULL CONSTRAINT lead_scoring_rules_factor_known CHECK (factor IN
                    ('source_quality', 'budget', 'nationality', 'property_type', 'response_time', 'referral', 'activity')),
    match_value text,
    min_value   numeric(16, 2),
    max_value   numeric(16, 2),
    points      numeric(6, 2),
    weight      numeric(6, 3),
    description text NOT NULL,
    is_active   boolean NOT NULL DEFAULT true,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    updated_by  text NOT NULL DEFAULT current_user,
    CONSTRAINT lead_scoring_rules_points_or_weight CHECK ((points IS NULL) <> (weight IS NULL)),
    CONSTRAINT lead_scoring_rules_range_order CHECK (min_value IS NULL OR max_value IS NULL OR min_value < max_value),
    CONSTRAINT lead_scoring_rules_points_range CHECK (points IS NULL OR points BETWEEN -100 AND 100),
    CONSTRAINT lead_scoring_rules_weight_range CHECK (weight IS NULL OR weight BETWEEN 0 AND 1)
);
COMMENT ON TABLE crm.lead_scoring_rules IS
    'Scoring policy. A lead''s score is the sum of the contributions of the active rules that match it, clamped to 0-100. '
    'Edit a row and the next score uses it. docs/business-rules.md gives the formula.';
COMMENT ON COLUMN crm.lead_scoring_rules.factor IS 'What the rule looks at: source_quality, budget, nationality, property_type, response_time, referral, activity.';
COMMENT ON COLUMN crm.lead_scoring_rules.match_value IS
    'Exact value to match: a country code or GCC (nationality), a property type, an activity event (positive, viewing, offer_made, no_response_7d).';
COMMENT ON COLUMN crm.lead_scoring_rules.min_value IS 'Inclusive lower bound of a numeric band (AED for budget, hours for response_time).';
COMMENT ON COLUMN crm.lead_scoring_rules.max_value IS 'Exclusive upper bound of a numeric band; NULL means no upper bound.';
COMMENT ON COLUMN crm.lead_scoring_rules.points IS 'Fixed points added when the rule matches (may be negative).';
COMMENT ON COLUMN crm.lead_scoring_rules.weight IS 'Multiplier applied to the factor''s input instead of fixed points (source_quality: weight x quality_score).';

INSERT INTO crm.lead_scoring_rules (rule_key, factor, match_value, min_value, max_value, points, weight, description) VALUES
    ('source_quality',        'source_quality', NULL,  NULL,        NULL,        NULL, 0.500, 'Half of the source quality (Bayut 90 gives 45).'),
    ('budget_under_500k',     'budget',         NULL,  0,           500000,      5,    NULL, 'Budget (max, AED) under 500k.'),
    ('budget_500k_1m',        'budget',         NULL,  500000,      1000000,     12,   NULL, 'Budget 500k to 1M AED.'),
    ('budget_1m_2m',          'budget',         NULL,  1000000,     2000000,     20,   NULL, 'Budget 1M to 2M AED.'),
    ('budget_2m_5m',          'budget',         NULL,  2000000,     5000000,     26,   NULL, 'Budget 2M to 5M AED.'),
    ('budget_5m_10m',         'budget',         NULL,  5000000,     10000000,    30,   NULL, 'Budget 5M to 10M AED.'),
    ('budget_10m_plus',       'budget',         NULL,  10000000,    NULL,        35,   NULL, 'Budget 10M AED and above.'),
    ('nationality_uae',       'nationality',    'AE',  NULL,        NULL,        10,   NULL, 'UAE nationals +10 (brief).'),
    ('nationality_gcc',       'nationality',    'GCC', NULL,        NULL,        5,    NULL, 'Other GCC nationals +5 (brief).'),
    ('property_villa',        'property_type',  'villa',      NULL, NULL,        8,    NULL, 'Villa buyers: highest ticket, most committed.'),
    ('property_commercial',   'property_type',  'commercial', NULL, NULL,        7,    NULL, 'Commercial buyers: investors with clear needs.'),
    ('property_townhouse',    'property_type',  'townhouse',  NULL, NULL,        6,    NULL, 'Townhouse buyers.'),
    ('property_apartment',    'property_type',  'apartment',  NULL, NULL,        5,    NULL, 'Apartment buyers.'),
    ('response_within_1h',    'response_time',  NULL,  0,           1,           10,   NULL, 'Lead answered our first contact within 1 hour of arriving.'),
    ('response_within_4h',    'response_time',  NULL,  1,           4,           5,    NULL, 'First contact within 1 to 4 hours.'),
    ('response_after_24h',    'response_time',  NULL,  24,          NULL,        -5,   NULL, 'First contact only after 24 hours: the lead has cooled.'),
    ('referral_bonus',        'referral',       NULL,  NULL,        NULL,        10,   NULL, 'Referred leads (source referral or a referrer agent) +10.'),
    ('activity_positive',     'activity',       'positive',       NULL, NULL,    5,    NULL, 'Positive interaction +5 (brief).'),
    ('activity_viewing',      'activity',       'viewing',        NULL, NULL,    10,   NULL, 'Property viewing +10 (brief).'),
    ('activity_offer_made',   'activity',       'offer_made',     NULL, NULL,    20,   NULL, 'Offer made +20 (brief).'),
    ('activity_no_response',  'activity',       'no_response_7d', NULL, NULL,    -10,  NULL, 'No response for 7 days -10 (brief), once per silence.');

CREATE TABLE crm.lead_status_transitions (
    from_status crm.lead_status NOT NULL,
    to_status   crm.lead_status NOT NULL,
    description text NOT NULL,
    PRIMARY KEY (from_status, to_status),
    CONSTRAINT lead_status_transitions_not_self CHECK (from_status <> to_status),
    CONSTRAINT lead_status_transitions_terminal CHECK (from_status NOT IN ('converted', 'lost'))
);
COMMENT ON TABLE crm.lead_status_transitions IS
    'Every allowed pipeline move. A status change not listed here is refused by the lead_status_transition trigger (PT409).';

INSERT INTO crm.lead_status_transitions (from_status, to_status, description) VALUES
    ('new',               'contacted',         'First contact made.'),
    ('contacted',         'qualified',         'Budget, need and timing confirmed.'),
    ('qualified',         'viewing_scheduled', 'A viewing is booked.'),
    ('viewing_scheduled', 'negotiation',       'Offer and terms under discussion.'),
    ('negotiation',       'converted',         'Deal closed.'),
    ('new',               'lost',              'Lost before first contact.'),
    ('contacted',         'lost',              'Lost after first contact.'),
    ('qualified',         'lost',              'Lost after qualification.'),
    ('viewing_scheduled', 'lost',              'Lost after viewing.'),
    ('negotiation',       'lost',              'Lost in negotiation.');
