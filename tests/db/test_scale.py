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
        # nothing is dated after the generation (the newest leads' histories are compressed to fit), and every
        # lead's first contact is its first activity (rules business_timestamp_in_future, first_contact_mismatch)
        latest = conn.execute("""
            SELECT greatest((SELECT max(occurred_at) FROM crm.lead_activities),
                            (SELECT max(changed_at) FROM crm.lead_conversion_history),
                            (SELECT max(greatest(assigned_at, first_activity_at)) FROM crm.lead_assignments),
                            (SELECT max(greatest(created_at, first_contacted_at, last_activity_at, closed_at))
                               FROM crm.leads)) <= now()""").fetchone()
        assert latest == (True,)
        contacts = conn.execute("""
            SELECT count(*) FILTER (WHERE l.first_contacted_at IS DISTINCT FROM
                                          (SELECT min(a.occurred_at) FROM crm.lead_activities AS a
                                            WHERE a.lead_id = l.lead_id)),
                   count(*) FILTER (WHERE l.first_contacted_at IS NOT NULL
                                      AND l.response_seconds IS DISTINCT FROM
                                          greatest(0, extract(epoch FROM l.first_contacted_at - l.created_at))::integer)
              FROM crm.leads AS l WHERE l.campaign_id = 'scale'""").fetchone()
        assert contacts == (0, 0)
        # every lead is an accepted offer, some after a first offer expired or was declined; the agents differ
        offers = conn.execute("""
            SELECT count(*) FILTER (WHERE released_at IS NULL AND accepted_at IS NOT NULL AND respond_by IS NOT NULL),
                   count(*) FILTER (WHERE release_reason = 'offer_expired'),
                   count(*) FILTER (WHERE release_reason = 'offer_declined')
              FROM crm.lead_assignments WHERE assigned_by = 'generator'""").fetchone()
        assert offers is not None and offers[0] == leads and offers[1] > 50 and offers[2] > 10
        figures = conn.execute("SELECT count(DISTINCT round(accept_rate)), count(DISTINCT response_p90_seconds) "
                               "FROM crm.offer_figures('-infinity', now())").fetchone()
        assert figures is not None and figures[0] > 5 and figures[1] > 5
        fresh = conn.execute("SELECT row_count FROM reporting.analytics_freshness").fetchone()
        assert fresh is not None and fresh[0] >= leads  # the snapshot was taken at the end
        # first responses spread over the bands, and the faster ones convert more (the studies' slope)
        bands = {r[0]: r[1:] for r in conn.execute(
            "SELECT key, contacted, conversion_rate FROM reporting.speed_to_lead()")}
        contacted = sum(b[0] for b in bands.values())
        assert 0.2 < bands["within 5 min"][0] / contacted < 0.4 and bands["later"][0] > 0
        assert bands["within 5 min"][1] > bands["within 24 h"][1] > bands["later"][1]
        # the API keeps working on top of it
        row = conn.execute("SELECT api.agent_dashboard(agent_id, '90d'), active_leads FROM crm.agents "
                           "WHERE email LIKE '%@scale.thinkrealty.ae' AND role = 'agent' LIMIT 1").fetchone()
        assert row is not None and row[0]["agent_summary"]["total_active_leads"] == row[1]
