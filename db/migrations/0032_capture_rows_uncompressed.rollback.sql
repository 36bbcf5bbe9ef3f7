-- 0032 rolled back: the lead and audit rows compressed past the default 2 KB again.
ALTER TABLE crm.lead_audit RESET (toast_tuple_target);
ALTER TABLE crm.leads RESET (toast_tuple_target);
