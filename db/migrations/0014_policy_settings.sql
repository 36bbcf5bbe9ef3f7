-- 0014 policy numbers that were literals in the functions become settings: a manager changes them with an UPDATE
-- of crm.settings and the next call obeys (docs/business-rules.md section 5).
INSERT INTO crm.settings (setting_key, value, description) VALUES
    ('performance_score',
     '{"conversion_weight": 0.6, "response_weight": 0.4, "response_zero_after": "48 hours", "window": "90 days", "neutral": 50}',
     'An agent''s performance score (0-100, used by the ranking): conversion_weight x the conversion rate over the '
     'window + response_weight x a response score (100 for an immediate first contact, falling linearly to 0 at '
     'response_zero_after); a part with no data counts as neutral.'),
    ('follow_up_fulfil_window', '"1 day"',
     'An agent interaction completes the lead''s next open follow-up when that one is due within this (or overdue).'),
    ('follow_up_past_tolerance', '"1 minute"',
     'How far in the past a follow-up may still be booked (clock skew between client and server).'),
    ('suggestion_budget_tolerance', '0.10',
     'Suggested listings may cost this share below budget_min and above budget_max (0.10 = 10 %).');
