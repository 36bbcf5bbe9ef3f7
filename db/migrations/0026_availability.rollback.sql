-- 0026 rolled back: the max_pause setting, the permission rows, the agents' availability columns, the absences and working hours.
DELETE FROM crm.settings WHERE setting_key = 'max_pause';
DELETE FROM crm.api_permissions WHERE action IN ('manage_availability', 'pause');
ALTER TABLE crm.agents DROP COLUMN IF EXISTS paused_until CASCADE, DROP COLUMN IF EXISTS pause_reason CASCADE,
    DROP COLUMN IF EXISTS weekly_hours CASCADE, DROP COLUMN IF EXISTS absent CASCADE;
DROP TABLE crm.agent_absences;
DROP TYPE crm.absence_reason;
DROP TABLE crm.agent_working_hours;
