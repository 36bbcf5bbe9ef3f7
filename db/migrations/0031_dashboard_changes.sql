-- 0031 the dashboard cache learns of changes from a change log instead of NOTIFY (issues 17 and 18).
-- A transaction that has sent a NOTIFY takes one lock for the whole database at commit and keeps it until its commit
-- record is flushed (PostgreSQL's async.c), so every capture (each one notifies its agent's dashboard) committed
-- alone, one fsync after the other: no group commit, and a slow flush (a new WAL segment) stalled every capture
-- behind it. The same triggers now write the agent's id here, one row per transaction and agent, and each API
-- process reads what committed since its last look (api.dashboard_changes), by transaction id against its previous
-- snapshot, so a transaction that commits late is still seen. The sweep prunes rows after ten minutes and records
-- how far it pruned, so a reader that fell further behind knows it must drop everything.
CREATE TABLE crm.dashboard_changes (
    xid        xid8        NOT NULL DEFAULT pg_current_xact_id(),
    agent_id   uuid        NOT NULL,
    changed_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    CONSTRAINT dashboard_changes_pkey PRIMARY KEY (xid, agent_id)
);
COMMENT ON TABLE crm.dashboard_changes IS
    'Which agents'' dashboards a committed transaction changed (written by crm.notify_dashboard from the triggers of '
    '20_crm_notify.sql; read by the API''s cache through api.dashboard_changes; pruned by the sweep after ten '
    'minutes). A cache-invalidation log, not business data: no foreign key, nothing else reads it.';
COMMENT ON COLUMN crm.dashboard_changes.xid IS
    'The writing transaction (pg_current_xact_id()): readers take what is not older than their previous snapshot''s '
    'xmin, which includes every transaction that had not committed when they last looked.';
-- no index on changed_at: the sweep's prune reads the whole table once a minute (ten minutes of rows), which costs
-- less than an index entry written by every capture

CREATE TABLE crm.dashboard_changes_pruned (
    singleton boolean PRIMARY KEY DEFAULT true CONSTRAINT dashboard_changes_pruned_singleton CHECK (singleton),
    up_to     xid8    NOT NULL DEFAULT '0'
);
COMMENT ON TABLE crm.dashboard_changes_pruned IS
    'One row: the newest transaction id the sweep has pruned from crm.dashboard_changes. A reader whose previous '
    'snapshot is not above it may have missed rows, and drops every cached dashboard.';
INSERT INTO crm.dashboard_changes_pruned DEFAULT VALUES;

REVOKE ALL ON crm.dashboard_changes, crm.dashboard_changes_pruned FROM PUBLIC;
