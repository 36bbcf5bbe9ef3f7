-- Task 4.2: lead quality analysis. Run: psql -v ON_ERROR_STOP=1 -f db/queries/4_2_quality.sql
\set from NULL
\set to NULL

-- 1. High-scoring leads (80+ at capture) that did not convert, and what went wrong, summed up, then the worst cases.
SELECT issue, count(*) AS leads, round(avg(capture_score)) AS avg_capture_score
  FROM reporting.high_score_not_converted(:from, :to) GROUP BY issue ORDER BY leads DESC;
SELECT * FROM reporting.high_score_not_converted(:from, :to) LIMIT 20;

-- 2. Low-scoring leads (under 50 at capture) that converted: what the scoring rules miss.
SELECT source_type, property_type, count(*) AS conversions, sum(deal_value_aed) AS revenue_aed,
       round(avg(capture_score)) AS avg_capture_score
  FROM reporting.low_score_converted(:from, :to) GROUP BY 1, 2 ORDER BY revenue_aed DESC NULLS LAST;

-- 3. Source quality over time: is each source's configured quality still right?
SELECT * FROM reporting.source_quality_monthly ORDER BY source_type, month;

-- 4. Optimal follow-up timing: conversion rate by the window of the agent's response (assignment to first contact).
SELECT response_window, leads, closed, converted, conversion_rate AS "conversion %"
  FROM reporting.response_time_conversion(:from, :to);
