-- Task 4.3: agent workload optimisation. Run: psql -v ON_ERROR_STOP=1 -f db/queries/4_3_workload.sql
\set from NULL
\set to NULL

-- 1. Current workload distribution: every agent's open leads against capacity.
SELECT full_name AS agent, role, is_active, active_leads, max_active_leads, free_capacity, utilisation_pct
  FROM reporting.agent_workload ORDER BY utilisation_pct DESC NULLS LAST;
SELECT width_bucket(utilisation_pct, 0, 100, 4) AS quartile, count(*) AS agents
  FROM reporting.agent_workload WHERE is_active GROUP BY 1 ORDER BY 1;

-- 2. Agents approaching maximum capacity (90 % or 5 free slots or fewer).
SELECT * FROM reporting.agents_near_capacity ORDER BY utilisation_pct DESC;

-- 3. Specialised versus general agents, and specialists in and outside their specialty.
SELECT * FROM reporting.specialist_vs_generalist(:from, :to);

-- 4. Response time against conversion: the correlation and the rate per window.
SELECT response_window, conversion_rate AS "conversion %", correlation AS "corr(response s, converted)"
  FROM reporting.response_time_conversion(:from, :to);
