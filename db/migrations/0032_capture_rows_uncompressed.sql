-- 0032 a captured lead's row and its audit row are stored as they are, not compressed (issue 18).
-- A new lead's row is about 2.7 KB (its assignment decision keeps the top five candidates with their points) and
-- the audit row of its INSERT about as much, both past the default toast_tuple_target of 2 KB, so PostgreSQL
-- compressed both with pglz on the way in and decompressed them again each time a trigger, the response or a later
-- step read the lead: 0.64 M of a capture's 13.7 M instructions (4.5 %, bench/instructions.py). With the target at
-- its maximum, a row is compressed only past 8,160 bytes (a page's worth), so these rows stay inline as written.
-- What it costs: space. Per capture about 0.8 KB more in crm.leads and 2.4 KB more in crm.lead_audit (docs/benchmarks.md,
-- "What a lead costs the primary"), and the WAL that logs those rows.
ALTER TABLE crm.leads SET (toast_tuple_target = 8160);
ALTER TABLE crm.lead_audit SET (toast_tuple_target = 8160);
