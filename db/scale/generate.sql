-- Scale data: :leads leads (default 1,000,000) over the last two years, :agents agents (200), about 5 activities
-- per lead, every lead an accepted offer (some after a first offer expired or was declined), first responses and
-- conversions spread as in a brokerage, every rule of the schema kept (reporting.invariant_violations is empty
-- afterwards).
-- Run by `crmctl generate` (progress on screen) or: psql -v leads=1000000 -v agents=200 -f db/scale/generate.sql
-- Needs a superuser: it loads history as an import with triggers off (session_replication_role = replica) and
-- writes what the triggers would have derived (status history, counters, routing profiles, contact times) itself,
-- in bulk. No audit rows are written for the import. Generated rows are marked: agents' e-mails end in
-- @scale.thinkrealty.ae and leads have campaign_id 'scale'.
\set ON_ERROR_STOP 1
\timing on
\if :{?leads} \else \set leads 1000000 \endif
\if :{?agents} \else \set agents 200 \endif

SET session_replication_role = replica;
SET synchronous_commit = off;
SET work_mem = '256MB';

\echo 'step 1/8: agents and their specialisations'
INSERT INTO crm.agents (full_name, email, phone, role, performance_score, max_active_leads, property_types, area_codes,
                        languages, routing_profile_id)
SELECT x.*, crm.routing_profile_of(x.property_types, x.area_codes, x.languages)
  FROM (SELECT 'Scale Agent ' || n, 'agent' || n || '@scale.thinkrealty.ae', '+97154' || lpad(n::text, 7, '0'),
               CASE WHEN n % 20 = 0 THEN 'supervisor' ELSE 'agent' END::crm.agent_role, 30 + (n * 37) % 61, 50,
               CASE WHEN n % 4 = 0 THEN '{}' ELSE ARRAY[(ARRAY['apartment', 'villa', 'townhouse', 'commercial'])[1 + n % 4]] END::crm.property_type[] AS property_types,
               ARRAY(SELECT c.area_code FROM (SELECT a.area_code FROM crm.areas AS a ORDER BY md5(a.area_code || n)
                                                LIMIT 2 + n % 3) AS c ORDER BY 1) AS area_codes,
               ARRAY(SELECT DISTINCT unnest(ARRAY['english', (ARRAY['arabic', 'hindi', 'russian', 'urdu', 'french'])[1 + n % 5]]) ORDER BY 1) AS languages
          FROM generate_series(1, :agents) AS n) AS x;
INSERT INTO crm.agent_property_types (agent_id, property_type)
SELECT g.agent_id, unnest(g.property_types) FROM crm.agents AS g WHERE g.email LIKE '%@scale.thinkrealty.ae';
INSERT INTO crm.agent_areas (agent_id, area_code)
SELECT g.agent_id, unnest(g.area_codes) FROM crm.agents AS g WHERE g.email LIKE '%@scale.thinkrealty.ae';
INSERT INTO crm.agent_languages (agent_id, language)
SELECT g.agent_id, unnest(g.languages) FROM crm.agents AS g WHERE g.email LIKE '%@scale.thinkrealty.ae';

CREATE TEMP TABLE scale_agent AS
SELECT row_number() OVER (ORDER BY g.agent_id) - 1 AS k, g.agent_id
  FROM crm.agents AS g WHERE g.email LIKE '%@scale.thinkrealty.ae' AND g.role = 'agent';

\echo 'step 2/8: the lead plan (status, dates, agent, offers, response) for every lead'
-- the newest leads stay open, as many as 80 % of the agents' capacity; older ones are closed. Every lead is offered
-- to an agent (an offer with the five-minute clock); for some the first offer to a colleague expired or was
-- declined first (how often depends on that colleague: 4 to 23 %), and the lead went to its agent in round 2. The
-- first contact follows the offer after a delay spread like a brokerage's (30 % within 5 minutes, 25 % within 30,
-- 15 % within the hour, 20 % within the day, 10 % later); the faster the contact, the likelier the close is a
-- conversion (24 % within 5 minutes down to 5 % after a day), so reporting.speed_to_lead shows the studies' slope.
CREATE TEMP TABLE scale_plan AS
WITH base AS (
    SELECT n, now() - (n::float8 / :leads) * interval '730 days' - (n % 3600) * interval '1 second' AS created_at,
           hashtext('lead' || n) & 2147483647 AS h, hashtext('offer' || n) & 2147483647 AS h2,
           n % (SELECT count(*) FROM scale_agent) AS k
      FROM generate_series(1, :leads) AS n
), open_quota AS (SELECT (count(*) * 40)::bigint AS q FROM scale_agent),
timed AS (
    SELECT b.*, a.agent_id, f.agent_id AS first_agent,
           CASE WHEN (b.h2 >> 20) % 100 < 4 + (f.k * 37) % 20
                THEN CASE WHEN (b.h2 >> 27) % 4 = 0 THEN 'offer_declined' ELSE 'offer_expired' END END AS chain,
           CASE WHEN (b.h2 >> 8) % 100 < 30 THEN 15 + (b.h2 >> 1) % 280
                WHEN (b.h2 >> 8) % 100 < 55 THEN 300 + (b.h2 >> 1) % 1500
                WHEN (b.h2 >> 8) % 100 < 70 THEN 1800 + (b.h2 >> 1) % 1800
                WHEN (b.h2 >> 8) % 100 < 90 THEN 3600 + (b.h2 >> 1) % 82800
                ELSE 86400 + (b.h2 >> 1) % 172800 END AS delay,
           -- how long the agent takes to press accept when they do not contact at once (their own spread)
           10 + (b.h2 >> 5) % (60 + (a.k * 29) % 230) AS accept_delay
      FROM base AS b
      JOIN scale_agent AS a ON a.k = b.k
      JOIN scale_agent AS f ON f.k = (b.k + 1) % (SELECT count(*) FROM scale_agent)
)
SELECT t.n, t.created_at, t.h, t.h2,
       (ARRAY['bayut', 'bayut', 'propertyFinder', 'propertyFinder', 'dubizzle', 'website', 'website', 'walk_in', 'referral'])[1 + (t.h) % 9] AS source_type,
       (ARRAY['apartment', 'apartment', 'apartment', 'villa', 'townhouse', 'commercial'])[1 + (t.h >> 4) % 6]::crm.property_type AS property_type,
       t.agent_id, t.first_agent, t.chain, t.delay, t.accept_delay,
       CASE WHEN t.n <= (SELECT q FROM open_quota) THEN (t.h >> 8) % 5                      -- open: new .. negotiation
            WHEN (t.h >> 8) % 100 < CASE WHEN t.delay <= 300 THEN 24 WHEN t.delay <= 1800 THEN 16
                                         WHEN t.delay <= 3600 THEN 12 WHEN t.delay <= 86400 THEN 9 ELSE 5 END
            THEN 5                                                                            -- converted
            ELSE 6 END AS stage,                                                              -- lost
       (t.h >> 12) % 10 < 8 AS contacted,
       400000 + (t.h >> 3) % 120 * 50000 AS budget
  FROM timed AS t;
-- a lost lead dropped out after one of the stages it reached
ALTER TABLE scale_plan ADD COLUMN reached integer, ADD COLUMN activities integer, ADD COLUMN close_after integer,
                       ADD COLUMN offered integer, ADD COLUMN response_seconds integer, ADD COLUMN accept_after integer,
                       ADD COLUMN stretch float8;
UPDATE scale_plan SET reached = CASE WHEN stage = 6 THEN (h >> 20) % 5 WHEN stage = 5 THEN 4 ELSE stage END;
-- each lead's history, in seconds after its capture: the first offer at 2; the lead's own offer at 2, or at the
-- first one's expiry (302) or decline; accepted accept_after later (the first contact, when it came within the
-- five minutes, else the accept button); the first contact at offered + delay (none for an uncontacted new lead),
-- one activity a day from then, the status steps every 12 hours, the close after close_after days. A history that
-- would run past now is compressed to fit (stretch: every offset times the same factor, so the order of events
-- holds), ending a minute before now: nothing is dated in the future (invariant business_timestamp_in_future).
UPDATE scale_plan
   SET offered = CASE chain WHEN 'offer_expired' THEN 302 WHEN 'offer_declined' THEN 22 + (h2 >> 3) % 180 ELSE 2 END,
       close_after = CASE WHEN stage >= 5 THEN (3 + (h >> 11) % 60) * 86400 END;
UPDATE scale_plan
   SET response_seconds = CASE WHEN contacted OR reached > 0 THEN offered + delay END,
       accept_after = CASE WHEN (contacted OR reached > 0) AND delay <= 300 THEN delay ELSE accept_delay END;
UPDATE scale_plan SET activities = CASE WHEN response_seconds IS NOT NULL THEN 4 + (h >> 7) % 5 ELSE 0 END;
UPDATE scale_plan
   SET stretch = least(1.0, greatest(1.0, extract(epoch FROM now() - created_at) - 60)
                            / greatest(offered + accept_after, coalesce(response_seconds + (activities - 1) * 86400, 0),
                                       CASE stage WHEN 5 THEN 4 WHEN 6 THEN reached ELSE stage END * 43200,
                                       coalesce(close_after, 0)));
-- an offer's deadline is not compressed: a lead whose history is, had its first offer stick
UPDATE scale_plan SET chain = NULL WHERE stretch < 1 AND chain IS NOT NULL;

\echo 'step 3/8: leads'
INSERT INTO crm.leads (lead_id, source_type, first_name, last_name, email, phone, nationality, language_preference,
                       budget_min, budget_max, property_type, status, score, score_breakdown, campaign_id,
                       first_contacted_at, response_seconds, last_activity_at, deal_value_aed, lost_reason, closed_at,
                       created_at, updated_at)
SELECT md5('scale-lead-' || p.n)::uuid, p.source_type,
       (ARRAY['Ahmed', 'Fatima', 'Omar', 'Sara', 'Raj', 'Anna', 'Li', 'Maria', 'John', 'Aisha'])[1 + (p.h) % 10],
       'Scale' || p.n, 'lead' || p.n || '@example.com', '+1555' || lpad(p.n::text, 8, '0'),
       (ARRAY['AE', 'SA', 'IN', 'GB', 'RU', 'EG', 'PK', 'CN', NULL])[1 + (p.h >> 5) % 9],
       (ARRAY['english', 'arabic', 'hindi', 'russian', NULL])[1 + (p.h >> 6) % 5],
       p.budget * 0.8, p.budget, p.property_type,
       (ARRAY['new', 'contacted', 'qualified', 'viewing_scheduled', 'negotiation', 'converted', 'lost'])[p.stage + 1]::crm.lead_status,
       least(100, 35 + (p.h >> 9) % 60),
       jsonb_build_array(jsonb_build_object('rule', 'generated', 'factor', 'source_quality', 'points', least(100, 35 + (p.h >> 9) % 60))),
       'scale',
       -- the first contact is the first activity of step 5 (the same expression: the same instant)
       p.created_at + ((p.response_seconds + 0 * 86400) * p.stretch) * interval '1 second',
       extract(epoch FROM ((p.response_seconds + 0 * 86400) * p.stretch) * interval '1 second')::integer,
       -- the last of the activities step 5 writes
       p.created_at + ((p.response_seconds + (p.activities - 1) * 86400) * p.stretch) * interval '1 second',
       CASE WHEN p.stage = 5 THEN p.budget * (0.9 + (p.h >> 2) % 20 / 100.0) END,
       CASE WHEN p.stage = 6 THEN (ARRAY['Budget too low', 'Bought elsewhere', 'Not responding', 'Changed plans'])[1 + (p.h) % 4] END,
       p.created_at + (p.close_after * p.stretch) * interval '1 second',
       p.created_at, p.created_at
  FROM scale_plan AS p;

\echo 'step 4/8: offers, assignments and status history'
-- the first offers that did not stick (their leads are uncompressed: stretch 1)
INSERT INTO crm.lead_assignments (lead_id, agent_id, kind, reason, assigned_by, assigned_at, clock_started_at,
                                  respond_by, offer_round, released_at, release_reason)
SELECT md5('scale-lead-' || p.n)::uuid, p.first_agent, 'auto', 'scale data', 'generator',
       p.created_at + interval '2 seconds', p.created_at + interval '2 seconds', p.created_at + interval '302 seconds',
       1, p.created_at + p.offered * interval '1 second', p.chain
  FROM scale_plan AS p WHERE p.chain IS NOT NULL;
-- every lead's own offer, accepted; its deadline is the clock start plus the five minutes of first_response_sla
INSERT INTO crm.lead_assignments (lead_id, agent_id, kind, reason, assigned_by, assigned_at, clock_started_at,
                                  respond_by, offer_round, accepted_at, first_activity_at)
SELECT md5('scale-lead-' || p.n)::uuid, p.agent_id, 'auto', 'scale data', 'generator',
       p.created_at + (p.offered * p.stretch) * interval '1 second',
       p.created_at + (p.offered * p.stretch) * interval '1 second',
       p.created_at + (p.offered * p.stretch) * interval '1 second' + interval '5 minutes',
       CASE WHEN p.chain IS NULL THEN 1 ELSE 2 END,
       p.created_at + ((p.offered + p.accept_after) * p.stretch) * interval '1 second',
       p.created_at + ((p.response_seconds + 0 * 86400) * p.stretch) * interval '1 second'
  FROM scale_plan AS p;
INSERT INTO crm.lead_conversion_history (lead_id, from_status, to_status, agent_id, changed_at, changed_by, note)
SELECT md5('scale-lead-' || p.n)::uuid,
       CASE WHEN s.i = 0 THEN NULL ELSE (ARRAY['new', 'contacted', 'qualified', 'viewing_scheduled', 'negotiation'])[s.i] END::crm.lead_status,
       CASE WHEN p.stage = 6 AND s.i = p.reached + 1 THEN 'lost'
            ELSE (ARRAY['new', 'contacted', 'qualified', 'viewing_scheduled', 'negotiation', 'converted'])[s.i + 1] END::crm.lead_status,
       p.agent_id,
       CASE WHEN p.stage >= 5 AND s.i = CASE WHEN p.stage = 6 THEN p.reached + 1 ELSE 5 END
            THEN p.created_at + (p.close_after * p.stretch) * interval '1 second'
            ELSE p.created_at + (s.i * 43200 * p.stretch) * interval '1 second' END,
       'generator',
       CASE WHEN p.stage = 6 AND s.i = p.reached + 1 THEN (ARRAY['Budget too low', 'Bought elsewhere', 'Not responding', 'Changed plans'])[1 + (p.h) % 4] END
  FROM scale_plan AS p
  CROSS JOIN LATERAL generate_series(0, CASE WHEN p.stage = 5 THEN 5 WHEN p.stage = 6 THEN p.reached + 1 ELSE p.stage END) AS s (i);

\echo 'step 5/8: activities (about 5 per lead)'
INSERT INTO crm.lead_activities (lead_id, agent_id, activity_type, outcome, notes, occurred_at, created_at, created_by)
SELECT md5('scale-lead-' || p.n)::uuid, p.agent_id,
       (ARRAY['call', 'whatsapp', 'email', 'viewing', 'meeting', 'call'])[1 + ((p.h) + a.j) % 6]::crm.activity_type,
       (ARRAY['positive', 'neutral', 'negative'])[1 + ((p.h >> 1) + a.j) % 3]::crm.activity_outcome,
       'generated', p.created_at + ((p.response_seconds + a.j * 86400) * p.stretch) * interval '1 second',
       p.created_at + ((p.response_seconds + a.j * 86400) * p.stretch) * interval '1 second', 'generator'
  FROM scale_plan AS p
  CROSS JOIN LATERAL generate_series(0, p.activities - 1) AS a (j)
 WHERE p.response_seconds IS NOT NULL;

\echo 'step 6/8: one open follow-up per open lead, never overlapping for an agent'
INSERT INTO crm.follow_up_tasks (lead_id, agent_id, task_type, priority, due_at, ends_at, created_by)
SELECT x.lead_id, x.agent_id, 'call', 'medium',
       date_trunc('hour', now()) + interval '1 day' + x.r * interval '45 minutes',
       date_trunc('hour', now()) + interval '1 day' + x.r * interval '45 minutes' + interval '30 minutes', 'generator'
  FROM (SELECT md5('scale-lead-' || p.n)::uuid AS lead_id, p.agent_id,
               row_number() OVER (PARTITION BY p.agent_id ORDER BY p.n) AS r
          FROM scale_plan AS p WHERE p.stage < 5) AS x;

\echo 'step 7/8: workload counters'
UPDATE crm.agents AS g
   SET active_leads = coalesce(c.open, 0), last_assigned_at = c.last
  FROM (SELECT a.agent_id, count(*) FILTER (WHERE l.status NOT IN ('converted', 'lost')) AS open, max(a.assigned_at) AS last
          FROM crm.lead_assignments AS a JOIN crm.leads AS l USING (lead_id)
         WHERE a.released_at IS NULL GROUP BY a.agent_id) AS c
 WHERE g.agent_id = c.agent_id;

SET session_replication_role = origin;
-- the routing columns and counts the triggers would have kept (the counters above changed base points)
SELECT crm.rebuild_routing() AS agents_rerouted;
\echo 'step 8/8: statistics, then the analytics snapshot'
ANALYZE;
SELECT crm.refresh_analytics_snapshot(true);
