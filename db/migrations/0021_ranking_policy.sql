-- 0021 the policy numbers of the reports a sales manager must be able to trust (issue 19) are settings: a manager
-- changes them with an UPDATE of crm.settings and the next report obeys (docs/analytics.md says what each decides).
-- score_review holds the thresholds the two Task 4.2 lists had as literals (80, 50, 30 days, 24 hours), so the list,
-- its count and its page read one value.
INSERT INTO crm.settings (setting_key, value, description, shape) VALUES
    ('ranking_min_closed_leads', '10',
     'An agent is ranked (reporting.agent_rankings) only with at least this many closed (converted or lost) leads in '
     'the window; the others are listed as not ranked, with the reason.', '"count"'),
    ('ranking_min_responses', '5',
     'An agent is ranked by response time (reporting.agent_rankings, the dashboard''s response_time_rank) only with at '
     'least this many first contacts measured in the period; the others are listed as not ranked, with the reason.',
     '"count"'),
    ('score_review',
     '{"high_score_min": 80, "low_score_max": 50, "stalled_after": "30 days", "slow_response_after": "24 hours"}',
     'The score review lists (Task 4.2): high scorers are leads captured at high_score_min or more that were lost, or '
     'are still open after stalled_after; their issue is slow_response when the first contact came after '
     'slow_response_after. Low scorers are converted leads captured under low_score_max.',
     '{"high_score_min": "percent", "low_score_max": "percent", "stalled_after": "interval", "slow_response_after": "interval"}');
