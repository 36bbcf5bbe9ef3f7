-- 0031 rolled back: the change log dropped (the function layer of the earlier tree notifies again).
DROP TABLE crm.dashboard_changes_pruned;
DROP TABLE crm.dashboard_changes;
