-- 0023 no business time in the future (issue 19): reporting.invariant_violations reports any capture, contact,
-- activity, status change, assignment, completion or escalation later than now plus this allowance for clock skew.
INSERT INTO crm.settings (setting_key, value, description, shape) VALUES
    ('future_timestamp_allowance', '"5 minutes"',
     'reporting.invariant_violations (rule business_timestamp_in_future) reports a business time (capture, contact, '
     'activity, status change, assignment, completion, escalation) later than now plus this (clock skew).',
     '"interval"');
