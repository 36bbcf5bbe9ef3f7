-- 0034 crm.leads.created_by: the actor who created the lead, stamped once at the insert (leads_20_check_status:
-- crm.actor(), never the caller's value), so that the lead's first history row, its audit INSERT row and the
-- lead.captured event name it instead of each checking the caller's seal again (issue 18: two of three seal checks
-- of a lead's insert, 1.6 % of a capture). Leads created before this migration get the actor their audit INSERT
-- row recorded (else their first history row's, else 'unknown'): the backfill rewrites every lead once.
ALTER TABLE crm.leads ADD COLUMN created_by text;
UPDATE crm.leads AS l
   SET created_by = coalesce(
       (SELECT u.changed_by FROM crm.lead_audit AS u
         WHERE u.lead_id = l.lead_id AND u.operation = 'INSERT' ORDER BY u.audit_id LIMIT 1),
       (SELECT h.changed_by FROM crm.lead_conversion_history AS h
         WHERE h.lead_id = l.lead_id AND h.from_status IS NULL ORDER BY h.history_id LIMIT 1),
       'unknown');
ALTER TABLE crm.leads ALTER COLUMN created_by SET DEFAULT current_user, ALTER COLUMN created_by SET NOT NULL;
COMMENT ON COLUMN crm.leads.created_by IS
    'Actor who created the lead: crm.actor() at the insert (trigger leads_20_check_status). The first status history '
    'row, the audit INSERT row and lead.captured name this actor.';
