-- Demo data, part 5: follow-up tasks and their escalations.
--
--   done       one per qualification call, viewing and offer already logged (the task that led to it)
--   cancelled  the pending follow-up of each lead lost after first contact
--   open       one per open, assigned lead, owned by its agent: most in the coming working days,
--              some overdue by days or weeks, a few overdue by more than 30 days and escalated to
--              the agent's supervisor (crm.follow_up_escalations).
-- An agent's open tasks may not overlap (follow_up_tasks_no_overlap): they get distinct 90-minute
-- slots from pg_temp.slot(). Task ids are md5('task-' || ...)::uuid.

-- done: the follow-up behind an interaction, due a little before it and completed when it happened
INSERT INTO crm.follow_up_tasks (task_id, lead_id, agent_id, task_type, priority, status, due_at, ends_at,
                                 notes, completed_at, created_at, updated_at)
SELECT md5('task-done-' || a.activity_id)::uuid, a.lead_id, a.agent_id,
       (CASE a.activity_type WHEN 'offer_made' THEN 'meeting' ELSE a.activity_type::text END)::crm.task_type,
       (CASE WHEN l.score >= 80 THEN 'high' WHEN l.score >= 50 THEN 'medium' ELSE 'low' END)::crm.task_priority,
       'done',
       a.occurred_at - interval '10 minutes',
       a.occurred_at + CASE WHEN a.activity_type IN ('viewing', 'meeting', 'offer_made') THEN interval '50 minutes' ELSE interval '20 minutes' END,
       CASE a.stage WHEN 2 THEN 'Qualification call: confirm budget, financing and timing.'
                    WHEN 3 THEN 'Viewing with the client.'
                    ELSE 'Meet the client to prepare the offer.' END,
       a.occurred_at + interval '15 minutes',
       greatest(l.created_at, a.occurred_at - interval '2 days'),
       a.occurred_at + interval '15 minutes'
  FROM seed_activity AS a
  JOIN crm.leads AS l USING (lead_id)
 WHERE a.seq = 1 AND a.stage BETWEEN 2 AND 4
ON CONFLICT (task_id) DO NOTHING;

-- cancelled: the next call that was booked when the lead was lost
INSERT INTO crm.follow_up_tasks (task_id, lead_id, agent_id, task_type, priority, status, due_at, notes,
                                 completed_at, created_at, updated_at)
SELECT md5('task-cancelled-' || p.lead_key)::uuid, p.lead_id, a.agent_id, 'call', 'medium', 'cancelled',
       l.closed_at + interval '2 days', 'Follow-up call; cancelled: the lead was lost.',
       l.closed_at, greatest(l.created_at, l.closed_at - interval '3 days'), l.closed_at
  FROM seed_lead AS p
  JOIN crm.leads AS l USING (lead_id)
  JOIN crm.lead_assignments AS a ON a.lead_id = p.lead_id AND a.released_at IS NULL
 WHERE p.stage = 6 AND p.reach >= 1
ON CONFLICT (task_id) DO NOTHING;

-- open: each open lead's next step, in one of four buckets; j numbers an agent's tasks in a bucket
CREATE TEMP TABLE seed_open_task ON COMMIT DROP AS
WITH bucketed AS (
    SELECT p.lead_id, p.lead_key, p.stage, p.language, a.agent_id, l.score, l.created_at,
           CASE WHEN p.age > interval '52 days' AND pg_temp.h(p.lead_key || '/task') % 3 = 0 THEN 'escalated'
                WHEN p.age > interval '23 days' AND pg_temp.h(p.lead_key || '/task') % 3 = 1 THEN 'overdue_weeks'
                WHEN p.age > interval '7 days'  AND pg_temp.h(p.lead_key || '/task') % 4 = 2 THEN 'overdue_days'
                ELSE 'upcoming' END AS bucket
      FROM seed_lead AS p
      JOIN crm.leads AS l USING (lead_id)
      JOIN crm.lead_assignments AS a ON a.lead_id = p.lead_id AND a.released_at IS NULL
     WHERE p.stage BETWEEN 0 AND 4
       AND NOT p.queued   -- drained when the seed commits; the drain books their first follow-up
)
SELECT b.*,
       (row_number() OVER (PARTITION BY b.agent_id, b.bucket ORDER BY b.lead_key) - 1)::integer AS j,
       -- first day of the bucket, counted from today and varied per agent: the slots of one agent in
       -- one bucket follow each other (six a working day), and the buckets are weeks apart
       CASE b.bucket WHEN 'escalated'     THEN -47 + pg_temp.h(b.agent_id::text) % 6
                     WHEN 'overdue_weeks' THEN -21 + pg_temp.h(b.agent_id::text) % 8
                     WHEN 'overdue_days'  THEN -6 + pg_temp.h(b.agent_id::text) % 3
                     ELSE 1 END AS day_offset,
       (CASE b.stage
             WHEN 0 THEN CASE WHEN b.score >= 50 THEN 'call' ELSE 'whatsapp' END
             WHEN 1 THEN pg_temp.pick('{call,whatsapp,email}'::text[], b.lead_key || '/tt')
             WHEN 2 THEN pg_temp.pick('{meeting,call}'::text[], b.lead_key || '/tt')
             WHEN 3 THEN 'viewing'
             ELSE pg_temp.pick('{meeting,call}'::text[], b.lead_key || '/tt')
        END)::crm.task_type AS task_type
  FROM bucketed AS b;

INSERT INTO crm.follow_up_tasks (task_id, lead_id, agent_id, task_type, priority, status, due_at, ends_at, notes,
                                 escalated_at, escalated_to, created_at, updated_at)
SELECT md5('task-open-' || t.lead_key)::uuid, t.lead_id, t.agent_id, t.task_type,
       (CASE WHEN t.stage = 4 OR t.score >= 80 THEN 'high' WHEN t.score >= 50 THEN 'medium' ELSE 'low' END)::crm.task_priority,
       'open', s.due_at,
       CASE WHEN t.task_type IN ('viewing', 'meeting') THEN s.due_at + interval '1 hour' END,   -- NULL: default 30 min
       CASE WHEN t.language = 'arabic' AND pg_temp.h(t.lead_key || '/ar') % 2 = 0 THEN
                 (ARRAY['اتصال أول بالعميل وتأكيد متطلباته.', 'متابعة بعد إرسال قائمة العقارات.', 'تحديد موعد للمعاينة.',
                        'تأكيد موعد المعاينة مع العميل والمالك.', 'متابعة العرض مع البائع.'])[t.stage + 1]
            ELSE (ARRAY['First contact: call and confirm requirements.', 'Follow up on the shortlist sent.',
                        'Book a viewing of the shortlisted units.', 'Confirm the viewing with the client and the owner.',
                        'Chase the seller''s answer to the offer.'])[t.stage + 1]
       END,
       -- overdue by more than 30 days: escalated by the sweep the day it passed the threshold
       CASE WHEN t.bucket = 'escalated' THEN s.due_at + interval '30 days 1 hour' END,
       CASE WHEN t.bucket = 'escalated' THEN sup.agent_id END,
       greatest(t.created_at, least(s.due_at, now()) - interval '2 days'), greatest(t.created_at, least(s.due_at, now()) - interval '2 days')
  FROM seed_open_task AS t
 CROSS JOIN LATERAL (SELECT pg_temp.slot(t.day_offset, t.j) AS due_at) AS s
  -- the agent's supervisor; a supervisor's own task goes to the other supervisor
 CROSS JOIN LATERAL (
        SELECT coalesce(g.supervisor_id,
                        (SELECT o.agent_id FROM crm.agents AS o
                          WHERE o.role = 'supervisor' AND o.is_active AND o.agent_id <> g.agent_id
                          ORDER BY o.full_name LIMIT 1)) AS agent_id
          FROM crm.agents AS g WHERE g.agent_id = t.agent_id
       ) AS sup
ON CONFLICT (task_id) DO NOTHING;

-- Safety net for a later re-run: a seeded open task that has since passed the escalation threshold
-- is escalated now, as the sweep would (nothing to do on a fresh seed).
UPDATE crm.follow_up_tasks AS t
   SET escalated_at = now(),
       escalated_to = coalesce(g.supervisor_id,
                               (SELECT o.agent_id FROM crm.agents AS o
                                 WHERE o.role = 'supervisor' AND o.is_active AND o.agent_id <> g.agent_id
                                 ORDER BY o.full_name LIMIT 1))
  FROM crm.agents AS g
 WHERE g.agent_id = t.agent_id
   AND t.created_by = 'seed' AND t.status = 'open' AND t.escalated_at IS NULL
   AND t.due_at < now() - crm.setting_interval('follow_up_escalate_after');

-- one escalation record per escalated seeded task (append-only table: insert once)
INSERT INTO crm.follow_up_escalations (task_id, escalated_to, overdue_by, reason, escalated_at, escalated_by)
SELECT t.task_id, t.escalated_to, t.escalated_at - t.due_at,
       'Open follow-up overdue by more than ' || (crm.setting('follow_up_escalate_after') #>> '{}'),
       t.escalated_at, crm.actor()
  FROM crm.follow_up_tasks AS t
 WHERE t.created_by = 'seed' AND t.escalated_at IS NOT NULL
   AND NOT EXISTS (SELECT 1 FROM crm.follow_up_escalations AS e WHERE e.task_id = t.task_id)
 ORDER BY t.escalated_at, t.task_id;

-- and the matching system event on the lead
INSERT INTO crm.lead_activities (activity_id, lead_id, agent_id, activity_type, notes, details, occurred_at)
SELECT md5('activity-escalation-' || e.task_id)::uuid, t.lead_id, NULL, 'escalation',
       'Follow-up overdue by more than 30 days; escalated to ' || g.full_name || '.',
       jsonb_build_object('task_id', t.task_id, 'escalated_to', e.escalated_to, 'overdue_by', e.overdue_by::text),
       e.escalated_at
  FROM crm.follow_up_escalations AS e
  JOIN crm.follow_up_tasks AS t USING (task_id)
  JOIN crm.agents AS g ON g.agent_id = e.escalated_to
 WHERE t.created_by = 'seed'
 ORDER BY e.escalated_at
ON CONFLICT (activity_id) DO NOTHING;
