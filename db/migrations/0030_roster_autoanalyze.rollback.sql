-- 0030 rolled back: the roster tables analysed at the default thresholds again.
ALTER TABLE crm.routing_profiles RESET (autovacuum_analyze_scale_factor, autovacuum_analyze_threshold);
ALTER TABLE crm.agents RESET (autovacuum_analyze_scale_factor, autovacuum_analyze_threshold);
