-- 0022 rolled back: the setting goes, and the column's comment with it.
DELETE FROM crm.settings WHERE setting_key = 'follow_up_overdue_raise';
COMMENT ON COLUMN crm.follow_up_tasks.priority IS NULL;
