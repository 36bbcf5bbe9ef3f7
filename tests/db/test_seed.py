"""The demo data meets the brief's volumes, obeys every rule, and loads idempotently."""

from __future__ import annotations

from typing import Any

import psycopg

from crmctl import database

COUNTS = """
SELECT (SELECT count(*) FROM crm.agents WHERE role = 'agent'),
       (SELECT count(*) FROM crm.agents WHERE NOT is_active),
       (SELECT count(*) FROM crm.leads),
       (SELECT count(DISTINCT source_type) FROM crm.leads),
       (SELECT count(DISTINCT status) FROM crm.leads),
       (SELECT count(*) FROM crm.lead_activities),
       (SELECT count(*) FROM crm.follow_up_tasks),
       (SELECT count(*) FROM crm.properties),
       (SELECT count(*) FROM crm.lead_property_interests),
       (SELECT count(DISTINCT language) FROM crm.agent_languages),
       (SELECT count(*) FROM crm.follow_up_tasks WHERE status = 'open' AND due_at < now()),
       (SELECT count(*) FROM crm.follow_up_tasks WHERE escalated_at IS NOT NULL),
       (SELECT count(*) FROM crm.leads WHERE status = 'converted' AND deal_value_aed IS NOT NULL),
       (SELECT count(*) FROM crm.leads WHERE status = 'lost'),
       (SELECT count(*) FROM crm.agents WHERE active_leads >= max_active_leads * 0.9 AND is_active)
"""


def test_seed_volumes_rules_and_idempotence(seeded_db_url: str) -> None:
    with psycopg.connect(seeded_db_url, autocommit=True) as conn:
        before = conn.execute(COUNTS).fetchone()
        assert before is not None
        (agents, inactive, leads, sources, statuses, activities, follow_ups, properties, interests,
         languages, overdue, escalated, won, lost, near_capacity) = before
        assert agents >= 12 and inactive >= 1
        assert leads >= 120 and sources == 6 and statuses == 7
        assert activities >= 60 and follow_ups >= 60
        assert properties >= 40 and interests >= 30
        assert languages >= 6
        assert overdue >= 1 and escalated >= 1
        assert won >= 1 and lost >= 1 and near_capacity >= 1
        assert conn.execute("SELECT * FROM reporting.invariant_violations").fetchall() == []
        arabic = conn.execute("SELECT count(*) FROM crm.leads WHERE first_name ~ '[\u0600-\u06FF]'").fetchone()
        assert arabic is not None and arabic[0] >= 1

    database.seed(seeded_db_url)  # again: nothing changes, nothing fails
    with psycopg.connect(seeded_db_url, autocommit=True) as conn:
        assert conn.execute(COUNTS).fetchone() == before
        assert conn.execute("SELECT * FROM reporting.invariant_violations").fetchall() == []


def test_the_demo_history_went_through_the_engine(seeded_db_url: str) -> None:
    """db/seed/40_history.sql replays the plan through capture, update and the sweeps at moved clocks: every lead is
    checked by, and keeps, the invariant capture_score_mismatch; history is dated when it happened; what the sweeps
    decide (decay, escalations, metrics) was done by the sweeps."""
    with psycopg.connect(seeded_db_url, autocommit=True) as conn:
        def value(query: str) -> Any:
            row = conn.execute(query).fetchone()
            assert row is not None
            return row[0]

        policy = "(SELECT max(r.updated_at) FROM crm.lead_scoring_rules AS r)"
        checked = value("SELECT count(*) FROM crm.leads AS l WHERE EXISTS (SELECT 1 FROM crm.lead_audit AS a "
                        f"WHERE a.lead_id = l.lead_id AND a.operation = 'INSERT' AND a.changed_at > {policy})")
        assert checked == value("SELECT count(*) FROM crm.leads")
        assert value("SELECT count(*) FROM reporting.capture_score_mismatches()") == 0
        assert conn.execute("""
            SELECT min(h.changed_at) < now() - interval '60 days',
                   bool_and(h.changed_at = l.closed_at) FILTER (WHERE h.to_status IN ('converted', 'lost')),
                   bool_and(h.changed_at >= l.created_at AND h.changed_at <= now())
              FROM crm.lead_conversion_history AS h JOIN crm.leads AS l USING (lead_id)""").fetchone() == (True,) * 3
        by_actor = dict(conn.execute("SELECT activity_type::text || ':' || (created_by = 'sweep'), count(*) "
                                     "FROM crm.lead_activities GROUP BY 1").fetchall())
        assert by_actor["escalation:true"] >= 1 and "escalation:false" not in by_actor
        assert by_actor["score_change:true"] >= 1 and "score_change:false" not in by_actor
        assert value("SELECT count(DISTINCT period_month) FROM crm.agent_performance_metrics "
                     "WHERE leads_assigned > 0") >= 3
        assert value("SELECT count(*) FROM crm.leads WHERE response_seconds IS NOT NULL") >= 100
        # every assignment decision is the engine's, stored as capture stores it
        assert value("SELECT count(*) FROM crm.leads WHERE assignment_decision ->> 'decided_at' IS NULL") == 0
