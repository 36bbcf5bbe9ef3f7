-- Demo offers: the demo history's routed leads were answered in time (their agents accepted within three minutes),
-- as a working brokerage's are; offers still within their deadline stay open for the offer timer.
UPDATE crm.lead_assignments
   SET accepted_at = least(assigned_at + interval '3 minutes', respond_by)
 WHERE respond_by IS NOT NULL AND accepted_at IS NULL AND released_at IS NULL AND respond_by < now();
