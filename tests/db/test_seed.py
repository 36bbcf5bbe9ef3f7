"""The demo data meets the brief's volumes, obeys every rule, and loads idempotently."""

from __future__ import annotations

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
