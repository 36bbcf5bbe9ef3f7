-- Task 4.1: lead performance report. Run: psql -v ON_ERROR_STOP=1 -f db/queries/4_1_performance.sql
-- (or `make psql < db/queries/4_1_performance.sql`). Every block reads a reporting.* object; change the dates
-- to narrow the window (NULL = all time). Dates are Asia/Dubai calendar days of the lead's capture (the cohort
-- view); where a question is about closing, a third argument 'close' dates the window by the close instead.
-- docs/analytics.md defines every figure.
\set from NULL
\set to NULL

-- 1. Conversion rate by source: converted / (converted + lost), with what is still open and the revenue.
SELECT source_type, leads, open_leads, converted, lost, conversion_rate AS "conversion %", revenue_aed
  FROM reporting.conversion_by_source(:from, :to);

-- 2. Conversion rate by agent or supervisor (who holds or closed the lead), with revenue and response time (from
--    the moment the agent got each lead to their first contact on it).
SELECT full_name AS agent, role, leads, converted, lost, conversion_rate AS "conversion %", revenue_aed,
       avg_response_hours AS "response (h)"
  FROM reporting.conversion_by_agent(:from, :to);

-- 3. How long a conversion takes, by property type (days from capture to conversion).
SELECT * FROM reporting.time_to_conversion_by_property_type(:from, :to);

-- 4. Monthly lead volume per source (every calendar month, empty ones as 0), its share of the month and the change
--    in leads from the month before (the partial current month against the month before up to the same point).
SELECT * FROM reporting.monthly_lead_volume ORDER BY month DESC, leads DESC LIMIT 36;

-- 5. Agent rankings: by revenue, conversion rate and response time, and overall, among agents with enough closed
--    leads and responses (settings ranking_min_closed_leads, ranking_min_responses); the others say why not.
SELECT full_name AS agent, overall_rank, revenue_rank, conversion_rank, response_rank, closed_leads, conversions,
       revenue_aed, not_ranked_reason
  FROM reporting.agent_rankings(:from, :to);

-- 6. Revenue attribution by source (the source the lead came in through): of the leads captured in the window, then
--    of the deals closed in it.
SELECT * FROM reporting.revenue_by_source(:from, :to);
SELECT * FROM reporting.revenue_by_source(:from, :to, 'close');
