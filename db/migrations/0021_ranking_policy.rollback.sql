-- 0021 rolled back: the ranking minimums and the score review thresholds go (the release before reads none of them).
DELETE FROM crm.settings WHERE setting_key IN ('ranking_min_closed_leads', 'ranking_min_responses', 'score_review');
