-- Demo data, part 4: the activity log (append-only: insert only, fixed ids, ON CONFLICT DO NOTHING)
-- and the lead scores that follow from it.
--
-- Every stage a lead went through left one or two agent interactions, written by the lead's agent
-- (its open assignment) after the assignment started and before the lead closed. Arabic-speaking
-- clients get about half of their notes in Arabic. System events (assignment, duplicate inquiry,
-- the 7-day no-response score penalty) have no agent. The AFTER INSERT trigger fills
-- first_contacted_at, response_seconds and last_activity_at on the lead, so rows go in time order.

CREATE TEMP TABLE seed_activity_template ON COMMIT DROP AS
SELECT * FROM (VALUES
    -- stage 1: first contact
    (1, 1, 'call',       'positive', 'First call: introduced the agency and confirmed what the client is looking for.',
                                     'المكالمة الأولى: عرّفنا العميل بالشركة وتأكدنا من متطلباته.'),
    (1, 2, 'whatsapp',   'neutral',  'Sent a shortlist of matching listings on WhatsApp.',
                                     'أرسلنا قائمة مختصرة بالعقارات المناسبة عبر واتساب.'),
    -- stage 2: qualification
    (2, 1, 'call',       'positive', 'Qualification call: budget, financing and move-in date confirmed.',
                                     'مكالمة تأهيل: تم تأكيد الميزانية والتمويل وموعد الانتقال.'),
    (2, 2, 'email',      'neutral',  'Emailed floor plans, service charges and payment plan options.',
                                     'أرسلنا بالبريد الإلكتروني المخططات ورسوم الخدمة وخيارات خطة الدفع.'),
    -- stage 3: viewing
    (3, 1, 'viewing',    'positive', 'Viewing done; the client liked the layout and the view.',
                                     'تمت المعاينة؛ أعجب العميل بالتصميم والإطلالة.'),
    (3, 2, 'meeting',    'neutral',  'Office meeting to compare the shortlisted units.',
                                     'اجتماع في المكتب لمقارنة الوحدات المختارة.'),
    -- stage 4: negotiation
    (4, 1, 'offer_made', 'positive', 'Offer submitted to the seller below the asking price.',
                                     'قدّمنا للبائع عرضاً أقل من السعر المطلوب.'),
    (4, 2, 'call',       'neutral',  'Seller countered; discussing the price and the handover date.',
                                     'ردّ البائع بعرض مقابل؛ نتفاوض على السعر وموعد التسليم.'),
    -- stage 5: converted
    (5, 1, 'meeting',    'positive', 'MOU signed and the deposit cheque collected.',
                                     'تم توقيع مذكرة التفاهم واستلام شيك العربون.'),
    -- stage 6: lost (a lead lost before any contact gets a note, not a call)
    (6, 1, 'call',       'negative', NULL,
                                     'العميل لن يكمل الشراء؛ سيتم إغلاق الطلب.')
) AS v (stage, seq, activity_type, outcome, note_en, note_ar);

-- the planned interactions of each lead, in order, with their times
CREATE TEMP TABLE seed_activity ON COMMIT DROP AS
WITH chosen AS (
    SELECT p.lead_id, p.lead_key, p.stage AS lead_stage, t.stage, t.seq,
           CASE WHEN t.stage = 6 AND p.reach = 0 THEN 'note' ELSE t.activity_type END::crm.activity_type AS activity_type,
           CASE WHEN t.stage = 1 AND t.seq = 1 THEN pg_temp.pick('{positive,neutral,positive}'::text[], p.lead_key || '/o1')
                WHEN t.stage = 6 AND p.reach = 0 THEN NULL
                ELSE t.outcome END::crm.activity_outcome AS outcome,
           CASE WHEN p.language = 'arabic' AND pg_temp.h(p.lead_key || '/ar') % 2 = 0 THEN t.note_ar
                WHEN t.stage = 6 THEN 'Closing the lead: ' || p.lost_reason || '.'
                ELSE t.note_en END AS notes
      FROM seed_lead AS p
      JOIN seed_activity_template AS t
        ON (t.stage BETWEEN 1 AND 4 AND t.stage <= p.reach
            AND (t.seq = 1 OR pg_temp.h(p.lead_key || '/a' || t.stage) % 3 <> 0))
        OR (t.stage = 5 AND p.stage = 5)
        OR (t.stage = 6 AND p.stage = 6)
     -- a lead's interactions are written in one go; on a re-run (times computed from a later now())
     -- leads that already have theirs are left alone
     WHERE NOT EXISTS (SELECT 1 FROM crm.lead_activities AS x
                        WHERE x.lead_id = p.lead_id AND x.agent_id IS NOT NULL)
       -- the queued leads are drained to agents when the seed commits; they have no history yet
       AND NOT p.queued
),
framed AS (
    SELECT c.*, a.agent_id, a.assigned_at AS window_start,
           coalesce(l.closed_at, now()) - interval '15 minutes' AS window_end,
           row_number() OVER (PARTITION BY c.lead_id ORDER BY c.stage, c.seq) AS k,
           count(*) OVER (PARTITION BY c.lead_id) AS m
      FROM chosen AS c
      JOIN crm.leads AS l USING (lead_id)
      JOIN crm.lead_assignments AS a ON a.lead_id = c.lead_id AND a.released_at IS NULL
)
SELECT f.*,
       md5('activity-' || f.lead_key || '-' || f.stage || '-' || f.seq)::uuid AS activity_id,
       -- first answer 6 minutes to 20 hours after assignment (at most a quarter of the window),
       -- the rest spread evenly until the lead closed (or until now)
       date_trunc('second', f.window_start + r.resp
                            + (f.window_end - f.window_start - r.resp) * ((f.k - 1)::double precision / f.m)) AS occurred_at,
       -- points before clamping (crm.lead_scoring_rules): viewing +10, offer +20, positive outcome +5
       (CASE f.activity_type WHEN 'viewing' THEN 10 WHEN 'offer_made' THEN 20 ELSE 0 END
        + CASE WHEN f.outcome = 'positive' THEN 5 ELSE 0 END) AS raw_points
  FROM framed AS f
 CROSS JOIN LATERAL (
        SELECT least((f.window_end - f.window_start) / 4,
                     interval '6 minutes' + pg_temp.frac(f.lead_key || '/resp') * interval '20 hours') AS resp
       ) AS r;

-- the 7-day no-response penalty (-10, once per silence): a gap of more than 7 days between two
-- interactions, or since the last one of a lead still open, costs 10 points 7 days into the gap
CREATE TEMP TABLE seed_decay ON COMMIT DROP AS
SELECT x.lead_id, md5('activity-decay-' || x.lead_key || '-' || x.k)::uuid AS activity_id,
       x.occurred_at + interval '7 days' AS occurred_at, -10 AS raw_points
  FROM (SELECT a.*, lead(a.occurred_at) OVER (PARTITION BY a.lead_id ORDER BY a.k) AS next_at
          FROM seed_activity AS a) AS x
 WHERE coalesce(x.next_at, CASE WHEN x.lead_stage NOT IN (5, 6) THEN now() END) > x.occurred_at + interval '7 days';

-- score deltas, applied in time order from the capture score and clamped to 0-100 at every step,
-- so each activity's score_delta is what the lead really gained or lost
CREATE TEMP TABLE seed_score_step ON COMMIT DROP AS
WITH RECURSIVE events AS (
    SELECT e.lead_id, e.activity_id, e.raw_points,
           row_number() OVER (PARTITION BY e.lead_id ORDER BY e.occurred_at, e.activity_id) AS step
      FROM (SELECT lead_id, activity_id, occurred_at, raw_points FROM seed_activity
            UNION ALL
            SELECT lead_id, activity_id, occurred_at, raw_points FROM seed_decay) AS e
),
run AS (
    SELECT l.lead_id, 0::bigint AS step, NULL::uuid AS activity_id, 0 AS score_delta,
           least(100, greatest(0, (SELECT round(sum((b ->> 'points')::numeric))
                                     FROM jsonb_array_elements(l.score_breakdown) AS b)))::integer AS score
      FROM crm.leads AS l
      JOIN seed_lead AS p USING (lead_id)
    UNION ALL
    SELECT r.lead_id, e.step, e.activity_id,
           least(100, greatest(0, r.score + e.raw_points)) - r.score,
           least(100, greatest(0, r.score + e.raw_points))
      FROM run AS r
      JOIN events AS e ON e.lead_id = r.lead_id AND e.step = r.step + 1
)
SELECT lead_id, activity_id, score_delta::smallint AS score_delta FROM run WHERE activity_id IS NOT NULL;

INSERT INTO crm.lead_activities (activity_id, lead_id, agent_id, activity_type, outcome, notes, score_delta, details, occurred_at)
SELECT e.activity_id, e.lead_id, e.agent_id, e.activity_type, e.outcome, e.notes, s.score_delta, e.details, e.occurred_at
  FROM (SELECT a.activity_id, a.lead_id, a.agent_id, a.activity_type, a.outcome, a.notes, a.occurred_at,
               jsonb_build_object('stage', (ARRAY['new', 'contacted', 'qualified', 'viewing_scheduled', 'negotiation',
                                                  'converted', 'lost'])[a.stage + 1]) AS details
          FROM seed_activity AS a
        UNION ALL
        SELECT d.activity_id, d.lead_id, NULL, 'score_change', NULL,
               'No response for 7 days: score penalty.', d.occurred_at,
               jsonb_build_object('rule', 'activity_no_response', 'points', d.raw_points)
          FROM seed_decay AS d) AS e
  JOIN seed_score_step AS s USING (activity_id)
 ORDER BY e.occurred_at, e.activity_id
ON CONFLICT (activity_id) DO NOTHING;

-- system events: every seeded assignment (including the hand-overs) ...
INSERT INTO crm.lead_activities (activity_id, lead_id, agent_id, activity_type, notes, details, occurred_at)
SELECT md5('activity-assignment-' || a.assignment_id)::uuid, a.lead_id, NULL, 'assignment',
       'Assigned to ' || g.full_name || ' (' || a.reason || ')',
       jsonb_build_object('assignment_id', a.assignment_id, 'agent_id', a.agent_id, 'kind', a.kind),
       a.assigned_at
  FROM crm.lead_assignments AS a
  JOIN seed_lead AS p USING (lead_id)
  JOIN crm.agents AS g ON g.agent_id = a.agent_id
 WHERE a.kind <> 'queue_drain'   -- the seed's own rows, not the drain that runs when it commits
 ORDER BY a.assigned_at
ON CONFLICT (activity_id) DO NOTHING;

-- ... and, on each original lead, the duplicate inquiry that came in from another source
INSERT INTO crm.lead_activities (activity_id, lead_id, agent_id, activity_type, notes, details, occurred_at)
SELECT md5('activity-duplicate-' || d.lead_key)::uuid, md5('lead-' || d.duplicate_of_key)::uuid, NULL, 'duplicate_inquiry',
       'Same phone number came in again from ' || src.display_name || '; linked as a duplicate.',
       jsonb_build_object('duplicate_lead_id', d.lead_id, 'source_type', d.source_type),
       l.created_at
  FROM seed_lead AS d
  JOIN crm.leads AS l USING (lead_id)
  JOIN crm.lead_sources AS src ON src.source_type = d.source_type
 WHERE d.duplicate_of_key IS NOT NULL
ON CONFLICT (activity_id) DO NOTHING;

-- lead score = capture score (sum of score_breakdown, clamped) + the score deltas of its activities;
-- last_decay_at = the latest no-response penalty
UPDATE crm.leads AS l
   SET score = s.score, last_decay_at = s.last_decay_at
  FROM (SELECT p.lead_id,
               least(100, greatest(0,
                   least(100, greatest(0, (SELECT round(sum((b ->> 'points')::numeric))
                                             FROM jsonb_array_elements(l2.score_breakdown) AS b)))
                   + coalesce((SELECT sum(a.score_delta) FROM crm.lead_activities AS a WHERE a.lead_id = p.lead_id), 0)
               ))::smallint AS score,
               (SELECT max(a.occurred_at) FROM crm.lead_activities AS a
                 WHERE a.lead_id = p.lead_id AND a.activity_type = 'score_change'
                   AND a.details ->> 'rule' = 'activity_no_response') AS last_decay_at
          FROM seed_lead AS p
          JOIN crm.leads AS l2 USING (lead_id)
         WHERE p.lead_id IN (SELECT lead_id FROM seed_score_step)) AS s   -- leads logged in this run
 WHERE s.lead_id = l.lead_id
   AND (l.score IS DISTINCT FROM s.score OR l.last_decay_at IS DISTINCT FROM s.last_decay_at);
