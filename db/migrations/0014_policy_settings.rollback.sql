DELETE FROM crm.settings
 WHERE setting_key IN ('performance_score', 'follow_up_fulfil_window', 'follow_up_past_tolerance',
                       'suggestion_budget_tolerance');
