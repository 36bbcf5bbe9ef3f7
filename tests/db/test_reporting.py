"""The reporting schema (Task 4): each object on a crafted dataset, the db/queries files, and the BI login."""

from __future__ import annotations

import subprocess
import uuid
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
import pytest
from psycopg.types.json import Jsonb

from devservers.postgres import pg_bin_dir
from tests.conftest import with_user
from tests.db.factories import new_agent

QUERIES = Path(__file__).resolve().parents[2] / "db" / "queries"
DUBAI = ZoneInfo("Asia/Dubai")
PATHS = {"converted": ["contacted", "qualified", "viewing_scheduled", "negotiation", "converted"],
         "lost": ["lost"], "new": [], "contacted": ["contacted"]}


def lead(conn: psycopg.Connection, agent: str, source: str, *, capture_score: int, status: str = "new",
         deal: int | None = None, answered_h: float | None = None, days_ago: int = 40, ptype: str = "apartment",
         closed_after_days: int = 10) -> str:
    created = datetime.now(DUBAI) - timedelta(days=days_ago)
    row = conn.execute(
        "INSERT INTO crm.leads (source_type, first_name, last_name, phone, score, score_breakdown, property_type, "
        "created_at) VALUES (%s, 'R', 'T', %s, %s, %s, %s, %s) RETURNING lead_id::text",
        (source, f"+97156{uuid.uuid4().int % 10**7:07d}", capture_score,
         Jsonb([{"rule": "x", "factor": "x", "points": capture_score}]), ptype, created)).fetchone()
    assert row is not None
    lead_id = str(row[0])
    conn.execute("INSERT INTO crm.lead_assignments (lead_id, agent_id, kind, assigned_at) VALUES (%s, %s, 'auto', %s)",
                 (lead_id, agent, created))
    if answered_h is not None:
        conn.execute("INSERT INTO crm.lead_activities (lead_id, agent_id, activity_type, occurred_at) "
                     "VALUES (%s, %s, 'call', %s)", (lead_id, agent, created + timedelta(hours=answered_h)))
    for step in PATHS[status]:
        conn.execute("UPDATE crm.leads SET status = %s, deal_value_aed = %s, lost_reason = %s, closed_at = %s "
                     "WHERE lead_id = %s",
                     (step, deal if step == "converted" else None, "price" if step == "lost" else None,
                      created + timedelta(days=closed_after_days) if step in ("converted", "lost") else None, lead_id))
    return lead_id


def rows(conn: psycopg.Connection, query: str) -> list[dict[str, Any]]:
    cur = conn.execute(query)
    names = [d.name for d in cur.description or []]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


@pytest.fixture
def crafted(db: psycopg.Connection) -> dict[str, str]:
    spec = new_agent(db, property_types=("villa",), max_active_leads=10)
    gen = new_agent(db)
    ids = {
        "b1": lead(db, spec, "bayut", capture_score=85, status="converted", deal=2_000_000, answered_h=0.5,
                   ptype="villa", closed_after_days=10),
        "b2": lead(db, spec, "bayut", capture_score=90, status="lost", answered_h=30, ptype="villa"),
        "b3": lead(db, spec, "bayut", capture_score=82, status="new", days_ago=45),  # never contacted
        "w1": lead(db, gen, "website", capture_score=40, status="converted", deal=1_000_000, answered_h=2,
                   closed_after_days=20),
        "w2": lead(db, gen, "website", capture_score=45, status="lost", answered_h=10),
        "w3": lead(db, gen, "website", capture_score=60, status="contacted", answered_h=5, days_ago=2),
    }
    for _ in range(8):  # the specialist is near capacity: 8 + b3 = 9 of 10 open
        lead(db, spec, "dubizzle", capture_score=50, days_ago=1)
    ids["spec"], ids["gen"] = spec, gen
    refresh = db.execute("SELECT crm.refresh_analytics_snapshot(true)").fetchone()
    assert refresh is not None and refresh[0]["refreshed"] is True
    return ids


def test_reports_read_the_snapshot_and_say_how_old_it_is(db: psycopg.Connection, db_url: str,
                                                          crafted: dict[str, str]) -> None:
    def bayut_leads() -> int:
        return next(r["leads"] for r in rows(db, "SELECT * FROM reporting.conversion_by_source()")
                    if r["source_type"] == "bayut")

    assert bayut_leads() == 3
    lead(db, crafted["gen"], "bayut", capture_score=70)
    assert bayut_leads() == 3  # captured after the snapshot: not counted yet
    fresh = rows(db, "SELECT refreshed_at, age, row_count, refresh_interval FROM reporting.analytics_freshness")
    assert len(fresh) == 1 and fresh[0]["row_count"] == 14 and fresh[0]["refresh_interval"] == timedelta(minutes=10)
    not_due = rows(db, "SELECT crm.refresh_analytics_snapshot() AS r")[0]["r"]
    assert not_due["refreshed"] is False and not_due["reason"] == "not due"
    db.execute("UPDATE crm.analytics_snapshot_log SET refreshed_at = now() - interval '11 minutes'")
    with psycopg.connect(with_user(db_url, "thinkrealty_jobs"), autocommit=True) as jobs:
        due = jobs.execute("SELECT jobs.refresh_analytics()").fetchone()
    assert due is not None and due[0]["refreshed"] is True and due[0]["rows"] == 15
    assert bayut_leads() == 4


def test_conversion_and_revenue_by_source(db: psycopg.Connection, crafted: dict[str, str]) -> None:
    by_source = {r["source_type"]: r for r in rows(db, "SELECT * FROM reporting.conversion_by_source()")}
    assert (by_source["bayut"]["leads"], by_source["bayut"]["converted"], by_source["bayut"]["lost"],
            by_source["bayut"]["open_leads"], by_source["bayut"]["conversion_rate"]) == (3, 1, 1, 1, Decimal("50.0"))
    assert by_source["dubizzle"]["conversion_rate"] is None  # nothing closed yet
    revenue = {r["source_type"]: r for r in rows(db, "SELECT * FROM reporting.revenue_by_source()")}
    assert revenue["bayut"]["revenue_aed"] == 2_000_000 and revenue["bayut"]["share_pct"] == Decimal("66.7")
    assert revenue["website"]["share_pct"] == Decimal("33.3")
    # the window: only leads captured in the last 10 days (w3 and the dubizzle ones)
    recent = rows(db, "SELECT * FROM reporting.conversion_by_source(current_date - 10, NULL)")
    assert {r["source_type"]: r["leads"] for r in recent} == {"website": 1, "dubizzle": 8}


def test_agents_rankings_and_time_to_conversion(db: psycopg.Connection, crafted: dict[str, str]) -> None:
    agents = {str(r["agent_id"]): r for r in rows(db, "SELECT * FROM reporting.conversion_by_agent()")}
    assert agents[crafted["spec"]]["converted"] == 1 and agents[crafted["gen"]]["conversion_rate"] == Decimal("50.0")
    ranking = rows(db, "SELECT * FROM reporting.agent_rankings()")   # 2 closed leads each: too few to rank
    assert {r["not_ranked_reason"] for r in ranking} == {"too_few_closed_leads"}
    db.execute("UPDATE crm.settings SET value = '2' WHERE setting_key IN ('ranking_min_closed_leads', "
               "'ranking_min_responses')")
    ranking = rows(db, "SELECT * FROM reporting.agent_rankings()")
    assert str(ranking[0]["agent_id"]) == crafted["spec"] and ranking[0]["revenue_rank"] == 1
    days = {r["property_type"]: r for r in rows(db, "SELECT * FROM reporting.time_to_conversion_by_property_type()")}
    assert days["villa"]["avg_days"] == Decimal("10.0") and days["apartment"]["avg_days"] == Decimal("20.0")


def test_quality_questions(db: psycopg.Connection, crafted: dict[str, str]) -> None:
    missed = {r["lead_id"]: r["issue"] for r in
              rows(db, "SELECT lead_id::text, issue FROM reporting.high_score_not_converted()")}
    assert missed == {crafted["b2"]: "slow_response", crafted["b3"]: "no_response"}
    found = [r["lead_id"] for r in rows(db, "SELECT lead_id::text FROM reporting.low_score_converted()")]
    assert found == [crafted["w1"]]
    windows = {r["response_window"]: r for r in rows(db, "SELECT * FROM reporting.response_time_conversion()")}
    assert windows["under 1 hour"]["conversion_rate"] == 100 and windows["1 to 3 days"]["conversion_rate"] == 0
    assert windows["1 to 4 hours"]["converted"] == 1 and windows["4 to 24 hours"]["closed"] == 1
    assert windows["not contacted by its agent"]["leads"] == 9
    assert windows["under 1 hour"]["correlation"] < 0  # the faster the answer, the likelier the sale
    monthly = rows(db, "SELECT * FROM reporting.source_quality_monthly WHERE source_type = 'bayut'")
    assert sum(r["leads"] for r in monthly) == 3 and all(r["configured_quality"] == 90 for r in monthly)


def test_workload_questions(db: psycopg.Connection, crafted: dict[str, str]) -> None:
    near = rows(db, "SELECT agent_id::text, active_leads, free_capacity FROM reporting.agents_near_capacity")
    assert near == [{"agent_id": crafted["spec"], "active_leads": 9, "free_capacity": 1}]
    kinds = {(r["agent_kind"], r["lead_match"]): r for r in
             rows(db, "SELECT * FROM reporting.specialist_vs_generalist()")}
    assert kinds[("specialist", "in specialty")]["leads"] == 2
    assert kinds[("specialist", "outside specialty")]["leads"] == 9
    assert kinds[("generalist", "any")]["conversion_rate"] == Decimal("50.0")


@pytest.mark.parametrize("path", sorted(QUERIES.glob("*.sql")), ids=lambda p: p.name)
def test_every_query_file_runs_clean(db_url: str, crafted: dict[str, str], path: Path) -> None:
    psql = str(pg_bin_dir() / "psql")
    done = subprocess.run([psql, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", db_url, "-f", str(path)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr


def test_the_bi_login_reads_reporting_only(db_url: str, crafted: dict[str, str]) -> None:
    with psycopg.connect(with_user(db_url, "thinkrealty_reporting"), autocommit=True) as bi:
        assert bi.execute("SELECT count(*) FROM reporting.monthly_lead_volume").fetchone() is not None
        assert bi.execute("SELECT count(*) FROM reporting.conversion_by_source()").fetchone() is not None
        views = bi.execute("SELECT relname FROM pg_class WHERE relnamespace = 'reporting'::regnamespace "
                           "AND relkind IN ('v', 'm')").fetchall()
        for (view,) in views:  # every view and the snapshot, with whatever functions they call
            bi.execute(f"SELECT * FROM reporting.{view} LIMIT 1").fetchall()
        assert len(views) >= 7
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            bi.execute("SELECT count(*) FROM crm.leads")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            bi.execute("UPDATE crm.agents SET max_active_leads = 1")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            bi.execute("SELECT jobs.run_sweeps()")
        with pytest.raises(psycopg.Error):
            bi.execute("CREATE TABLE reporting.mine (x int)")


def test_reporting_columns_have_plain_types_and_domain_rules_keep_their_names(db: psycopg.Connection) -> None:
    """Migration 0033 made single-column rules domains; a BI tool still reads plain types from every reporting view
    and function, and a psql write that breaks such a rule fails as a table CHECK did: 23514 with the rule's name."""
    domains = db.execute("""
        SELECT c.relname || '.' || a.attname FROM pg_attribute AS a JOIN pg_class AS c ON c.oid = a.attrelid
          JOIN pg_type AS t ON t.oid = a.atttypid
         WHERE c.relnamespace = 'reporting'::regnamespace AND a.attnum > 0 AND t.typtype = 'd'
        UNION ALL
        SELECT p.proname FROM pg_proc AS p JOIN pg_type AS t ON t.oid = ANY (p.proallargtypes) OR t.oid = p.prorettype
         WHERE p.pronamespace = 'reporting'::regnamespace AND t.typtype = 'd'""").fetchall()
    assert domains == []
    assert db.execute("SELECT format_type(atttypid, atttypmod) FROM pg_attribute "
                      "WHERE attrelid = 'crm.leads'::regclass AND attname = 'phone'").fetchone() == ("crm.leads_phone",)
    agent = new_agent(db)
    for statement, name in (("UPDATE crm.agents SET phone = '0501234567' WHERE agent_id = %s", "agents_phone_e164"),
                            ("UPDATE crm.agents SET max_active_leads = 51 WHERE agent_id = %s",
                             "agents_max_active_leads_range")):
        with pytest.raises(psycopg.errors.CheckViolation) as broken, db.transaction():
            db.execute(statement, (agent,))
        assert broken.value.diag.constraint_name == name
