-- 0030 the roster tables' statistics are refreshed by their own rhythm, not by every capture's counter update.
-- Every capture updates one crm.agents row (active_leads, last_assigned_at) and, when an agent fills up or frees a
-- slot, one crm.routing_profiles row, so with the default thresholds (50 rows + 10 %) autovacuum re-analyses these
-- small tables about once a minute under load. An ANALYZE invalidates every cached plan that reads the table, in every
-- backend, and each then plans the capture's statements again at its next call: measured here as a stall of about
-- half a second at 150 captures/s (docs/operations.md, "Autovacuum and the cached plans"). What the planner needs of
-- them (how many agents, which profiles) changes when the roster does, which the counters do not show: analyse after
-- 5,000 changed rows instead (a roster change: run ANALYZE crm.agents).
ALTER TABLE crm.agents SET (autovacuum_analyze_scale_factor = 0, autovacuum_analyze_threshold = 5000);
ALTER TABLE crm.routing_profiles SET (autovacuum_analyze_scale_factor = 0, autovacuum_analyze_threshold = 5000);
