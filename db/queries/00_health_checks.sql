-- Health checks for a DBA: run with
--   make psql < db/queries/00_health_checks.sql
--   psql -v ON_ERROR_STOP=1 -f db/queries/00_health_checks.sql "$DATABASE_URL"
-- Every query reads only; none changes data.

-- 1. Broken business rules. Must return no rows.
SELECT rule, count(*) AS violations, min(entity_id) AS example
  FROM reporting.invariant_violations
 GROUP BY rule
 ORDER BY rule;

-- 2. Workload per agent against capacity (50 at most), busiest first.
SELECT full_name, role, is_active, active_leads, max_active_leads, free_capacity, utilisation_pct
  FROM reporting.agent_workload
 ORDER BY utilisation_pct DESC NULLS LAST, full_name;

-- 3. Leads waiting for an agent with capacity, in the order the queue drains them.
SELECT lead_id, source_type, score, created_at, queued_at
  FROM crm.leads
 WHERE queued_at IS NOT NULL
 ORDER BY score DESC, created_at;

-- 4. The pipeline today: leads per status and source.
SELECT status, source_type, count(*) AS leads
  FROM crm.leads
 GROUP BY ROLLUP (status, source_type)
 ORDER BY status NULLS LAST, source_type NULLS LAST;

-- 5. Open follow-ups by lateness bucket (overdue more than 30 days must all be escalated).
SELECT CASE
           WHEN due_at >= now() THEN 'upcoming'
           WHEN due_at >= now() - interval '7 days' THEN 'overdue < 7 days'
           WHEN due_at >= now() - interval '30 days' THEN 'overdue 7-30 days'
           ELSE 'overdue > 30 days'
       END AS bucket,
       count(*) AS tasks,
       count(*) FILTER (WHERE escalated_at IS NOT NULL) AS escalated
  FROM crm.follow_up_tasks
 WHERE status = 'open'
 GROUP BY 1
 ORDER BY 1;
