-- 0022 a follow-up's priority follows its lead (issue 19): it is derived when read, from the lead's current score (the
-- SLA classes, as at booking) and how overdue it is (crm.follow_up_priority); the stored column stays what it was
-- booked with. The one new policy number is a setting.
INSERT INTO crm.settings (setting_key, value, description, shape) VALUES
    ('follow_up_overdue_raise', '"1 day"',
     'A follow-up''s priority is read from its lead''s current score (the SLA classes) and goes up one level (low to '
     'medium, medium to high) once the follow-up is overdue by more than this.', '"interval"');
COMMENT ON COLUMN crm.follow_up_tasks.priority IS
    'The priority the follow-up was booked with (the SLA class of the lead''s score at booking). What an agent sees is '
    'derived when read, from the lead''s current score and the due time (crm.follow_up_priority).';
