-- 0023 rolled back: the allowance goes (the invariant view falls back to 5 minutes without it).
DELETE FROM crm.settings WHERE setting_key = 'future_timestamp_allowance';
