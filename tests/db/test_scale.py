"""The scale-data generator keeps every rule: a small run through psql, then the invariant view."""

from __future__ import annotations

import subprocess
from pathlib import Path

import psycopg

from devservers.postgres import pg_bin_dir

SCRIPT = Path(__file__).resolve().parents[2] / "db" / "scale" / "generate.sql"


def test_generated_data_obeys_every_rule(db_url: str) -> None:
    done = subprocess.run([str(pg_bin_dir() / "psql"), "-X", "-q", "-v", "leads=5000", "-v", "agents=20",
                           "-d", db_url, "-f", str(SCRIPT)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "step 8/8" in done.stdout  # the progress display
    with psycopg.connect(db_url, autocommit=True) as conn:
        counts = conn.execute("""
            SELECT (SELECT count(*) FROM crm.leads WHERE campaign_id = 'scale'),
                   (SELECT count(*) FROM crm.agents WHERE email LIKE '%@scale.thinkrealty.ae'),
                   (SELECT count(*) FROM crm.lead_activities WHERE created_by = 'generator'),
                   (SELECT count(DISTINCT status) FROM crm.leads),
                   (SELECT max(active_leads) FROM crm.agents)""").fetchone()
        assert counts is not None
        leads, agents, activities, statuses, busiest = counts
        assert (leads, agents, statuses) == (5000, 20, 7)
        assert 5 * leads <= activities <= 7 * leads and busiest <= 50
        assert conn.execute("SELECT * FROM reporting.invariant_violations").fetchall() == []
        stale = conn.execute("""
            SELECT count(*) FROM crm.leads AS l
             WHERE l.campaign_id = 'scale' AND l.last_activity_at IS DISTINCT FROM
                   (SELECT max(a.occurred_at) FROM crm.lead_activities AS a WHERE a.lead_id = l.lead_id)""").fetchone()
        assert stale == (0,)  # last_activity_at is the last generated activity
        fresh = conn.execute("SELECT row_count FROM reporting.analytics_freshness").fetchone()
        assert fresh is not None and fresh[0] >= leads  # the snapshot was taken at the end
        # the API keeps working on top of it
        row = conn.execute("SELECT api.agent_dashboard(agent_id, '90d'), active_leads FROM crm.agents "
                           "WHERE email LIKE '%@scale.thinkrealty.ae' AND role = 'agent' LIMIT 1").fetchone()
        assert row is not None and row[0]["agent_summary"]["total_active_leads"] == row[1]
