-- 0034 rolled back: the lead's creator is again only in its audit and history rows.
ALTER TABLE crm.leads DROP COLUMN created_by;
