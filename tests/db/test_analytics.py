"""Analytics a sales manager can trust (issue 19): each definition of docs/analytics.md on a case built in SQL, and
the number it must give. One response time (the assignment's), calendar months, rankings with enough data, one rule
for supervisors, nulls and cut-offs that say what they mean, revenue by close date, a follow-up priority that follows
the lead, and no future in the data."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
import pytest
from psycopg.types.json import Jsonb

from tests.db.factories import assign, db_error, new_agent, new_lead, walk_to

DUBAI = ZoneInfo("Asia/Dubai")


def rows(conn: psycopg.Connection, query: str, *args: Any) -> list[dict[str, Any]]:
    cur = conn.execute(query, args)
    names = [d.name for d in cur.description or []]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def one(conn: psycopg.Connection, query: str, *args: Any) -> Any:
    row = conn.execute(query, args).fetchone()
    assert row is not None
    return row[0]


def setting(conn: psycopg.Connection, key: str, value: Any) -> None:
    conn.execute("UPDATE crm.settings SET value = %s WHERE setting_key = %s", (Jsonb(value), key))


def lead_at(conn: psycopg.Connection, agent: str | None, created: datetime, *, source: str = "bayut",
            capture_score: int | None = None, property_type: str = "apartment") -> str:
    """A lead captured at `created` (scored by the rules, or given this capture score), assigned to `agent` at the
    same moment."""
    given = {} if capture_score is None else {
        "score": capture_score, "score_breakdown": Jsonb([{"rule": "test", "factor": "test", "points": capture_score}])}
    lead = new_lead(conn, source=source, created_at=created, property_type=property_type, **given)
    if agent:
        assign_at(conn, lead, agent, created)
    return lead


def assign_at(conn: psycopg.Connection, lead: str, agent: str, at: datetime) -> None:
    conn.execute("INSERT INTO crm.lead_assignments (lead_id, agent_id, kind, assigned_at) "
                 "VALUES (%s, %s, 'manual', %s)", (lead, agent, at))


def reassign_at(conn: psycopg.Connection, lead: str, agent: str, at: datetime) -> None:
    conn.execute("UPDATE crm.lead_assignments SET released_at = %s, release_reason = 'test' "
                 "WHERE lead_id = %s AND released_at IS NULL", (at, lead))
    assign_at(conn, lead, agent, at)


def contact(conn: psycopg.Connection, lead: str, agent: str, at: datetime) -> None:
    conn.execute("INSERT INTO crm.lead_activities (lead_id, agent_id, activity_type, outcome, occurred_at) "
                 "VALUES (%s, %s, 'call', 'neutral', %s)", (lead, agent, at))


def close(conn: psycopg.Connection, lead: str, status: str, at: datetime, deal: int | None = None) -> None:
    """Walk the lead to converted (with a deal) or lost, closed at `at`."""
    if status == "converted":
        walk_to(conn, lead, "negotiation")
        conn.execute("UPDATE crm.leads SET status = 'converted', deal_value_aed = %s, closed_at = %s "
                     "WHERE lead_id = %s", (deal or 1_000_000, at, lead))
    else:
        conn.execute("UPDATE crm.leads SET status = 'lost', lost_reason = 'test', closed_at = %s WHERE lead_id = %s",
                     (at, lead))


def refresh(conn: psycopg.Connection) -> None:
    conn.execute("SELECT crm.refresh_analytics_snapshot(true)")


def dashboard(conn: psycopg.Connection, agent: str, *args: Any) -> dict[str, Any]:
    marks = ", ".join(["%s"] * len(args))
    body: dict[str, Any] = one(conn, f"SELECT api.agent_dashboard(%s{', ' + marks if args else ''})::jsonb",
                               agent, *args)
    return body


def report(conn: psycopg.Connection, name: str, **params: Any) -> dict[str, Any]:
    names = ["p_from", "p_to", "p_dated_by", "p_limit", "p_cursor"]
    args = [params.get(n.removeprefix("p_")) for n in names]
    body: dict[str, Any] = one(conn, "SELECT api.analytics_report(%s, %s, %s, %s, %s, %s)::json", name, *args)
    return body


NOW = datetime.now(DUBAI).replace(microsecond=0)


# --- 1. response time belongs to the assignment ------------------------------------------------------------------

def test_an_agent_who_takes_a_lead_over_is_timed_from_her_assignment(db: psycopg.Connection) -> None:
    first, priya, other = new_agent(db), new_agent(db), new_agent(db)
    setting(db, "ranking_min_responses", 1)
    captured = NOW - timedelta(days=5)
    inherited = lead_at(db, first, captured)        # nobody answers it for two days
    reassign_at(db, inherited, priya, captured + timedelta(days=2))
    contact(db, inherited, priya, captured + timedelta(days=2, hours=1))   # Priya: one hour after she got it
    own = lead_at(db, priya, captured + timedelta(days=1))
    contact(db, own, priya, captured + timedelta(days=1, hours=3))         # three hours
    slow = lead_at(db, other, captured)
    contact(db, slow, other, captured + timedelta(hours=10))               # the other agent: ten hours
    db.execute("SELECT crm.refresh_performance_metrics(now())")
    refresh(db)

    assert one(db, "SELECT response_seconds FROM crm.lead_assignments WHERE lead_id = %s AND agent_id = %s",
               inherited, priya) == 3600
    # the lead's own time to first contact stays: capture to the first contact by anyone, two days and an hour
    assert one(db, "SELECT first_contact_seconds FROM reporting.lead_facts_snapshot WHERE lead_id = %s",
               inherited) == 49 * 3600
    summary = dashboard(db, priya, "30d")["agent_summary"]
    assert (summary["average_response_seconds"], summary["average_response_time"]) == (7200, "2.0 hours")
    metrics = dashboard(db, priya, "30d")["performance_metrics"]
    assert (metrics["response_time_rank"], metrics["ranked_agents"]) == (1, 2)   # ahead of the ten-hour agent
    by_agent = {str(r["agent_id"]): r for r in rows(db, "SELECT * FROM reporting.conversion_by_agent()")}
    assert by_agent[priya]["avg_response_hours"] == Decimal("2.0") and by_agent[other]["avg_response_hours"] == 10
    windows = {r["response_window"]: r["leads"] for r in rows(db, "SELECT * FROM reporting.response_time_conversion()")}
    assert windows == {"1 to 4 hours": 2, "4 to 24 hours": 1}   # the inherited lead: 1 hour, not 49
    kinds = rows(db, "SELECT * FROM reporting.specialist_vs_generalist()")
    assert [(k["agent_kind"], k["leads"], k["avg_response_hours"]) for k in kinds] == [
        ("generalist", 3, Decimal("4.7"))]   # (1 + 3 + 10) / 3 hours, not Priya's two inherited days


def test_the_first_contact_is_the_earliest_interaction(db: psycopg.Connection) -> None:
    agent = new_agent(db)
    lead = lead_at(db, agent, NOW - timedelta(days=2))
    contact(db, lead, agent, NOW - timedelta(days=1))
    contact(db, lead, agent, NOW - timedelta(days=1, hours=12))   # logged later, happened earlier
    first, seconds = db.execute("SELECT first_contacted_at, response_seconds FROM crm.leads WHERE lead_id = %s",
                                (lead,)).fetchone() or (None, None)
    assert first == NOW - timedelta(days=1, hours=12) and seconds == 12 * 3600
    assert rows(db, "SELECT * FROM reporting.invariant_violations") == []


# --- 2. months are calendar months -------------------------------------------------------------------------------

def test_every_calendar_month_is_counted_and_the_current_one_is_partial(db: psycopg.Connection) -> None:
    this_month = NOW.replace(day=1, hour=0, minute=0, second=0)
    elapsed = NOW - this_month

    def month(back: int) -> datetime:
        start = this_month
        for _ in range(back):
            start = (start - timedelta(days=1)).replace(day=1)
        return start

    last_month = this_month - month(1)
    for _ in range(2):
        lead_at(db, None, month(3) + timedelta(days=3), source="referral")
    # month(2): none
    lead_at(db, None, month(1) + elapsed / 2, source="referral")        # before the same point of last month
    after = 3 if elapsed + timedelta(hours=2) < last_month else 0        # (none on a 31st after a 30-day month)
    for _ in range(after):   # after that point, before the end of last month
        lead_at(db, None, month(1) + (elapsed + last_month) / 2, source="referral")
    lead_at(db, None, this_month + elapsed / 2, source="referral")
    db.execute("UPDATE crm.leads SET queued_at = created_at")   # no agent: waiting (keeps the invariants)
    refresh(db)
    referral = {r["month"]: r for r in rows(db, "SELECT * FROM reporting.monthly_lead_volume "
                                                "WHERE source_type = 'referral' ORDER BY month")}
    assert [(m.isoformat(), r["leads"], r["partial"], r["change_vs_previous_month"],
             r["change_vs_previous_month_pct"]) for m, r in referral.items()] == [
        (month(3).date().isoformat(), 2, False, None, None),              # the first month: nothing to compare
        (month(2).date().isoformat(), 0, False, -2, Decimal("-100.0")),   # an empty month is 0, not missing
        (month(1).date().isoformat(), 1 + after, False, 1 + after, None),   # against that 0 (no % of nothing)
        (this_month.date().isoformat(), 1, True, 0, Decimal("0.0"))]      # 1 so far against 1 by the same point
    bayut = rows(db, "SELECT leads, share_of_month_pct FROM reporting.monthly_lead_volume "
                     "WHERE source_type = 'bayut'")
    assert len(bayut) == 4 and {r["leads"] for r in bayut} == {0}
    quality = rows(db, "SELECT month, partial, leads, conversion_rate FROM reporting.source_quality_monthly "
                       "WHERE source_type = 'referral' ORDER BY month")
    assert [(r["leads"], r["partial"]) for r in quality] == [(2, False), (0, False), (1 + after, False), (1, True)]


# --- 3. rankings need enough data -------------------------------------------------------------------------------

def _closer(db: psycopg.Connection, won: int, lost: int, response_s: int, deal: int) -> str:
    agent = new_agent(db)
    for n in range(won + lost):
        captured = NOW - timedelta(days=20, hours=n)
        lead = lead_at(db, agent, captured)
        contact(db, lead, agent, captured + timedelta(seconds=response_s))
        close(db, lead, "converted" if n < won else "lost", captured + timedelta(days=5), deal)
    return agent


def test_rankings_rank_only_agents_with_enough_closed_leads_on_unrounded_figures(db: psycopg.Connection) -> None:
    lucky = _closer(db, won=2, lost=1, response_s=600, deal=5_000_000)      # 67 % of three: too few to rank
    steady = _closer(db, won=5, lost=5, response_s=3600, deal=1_000_000)
    slower = _closer(db, won=4, lost=6, response_s=3720, deal=2_000_000)    # 1.03 h: 1.0 when rounded, like 1 h
    refresh(db)
    ranking = rows(db, "SELECT * FROM reporting.agent_rankings()")
    by_agent = {str(r["agent_id"]): r for r in ranking}
    assert [str(r["agent_id"]) for r in ranking] == [steady, slower, lucky]
    assert by_agent[lucky] | {"agent_id": None, "full_name": None, "role": None} == {
        "agent_id": None, "full_name": None, "role": None, "closed_leads": 3, "conversions": 2,
        "conversion_rate": Decimal("66.7"), "revenue_aed": 10_000_000, "responses": 3,
        "avg_response_hours": Decimal("0.2"), "revenue_rank": None, "conversion_rank": None, "response_rank": None,
        "overall_rank": None, "not_ranked_reason": "too_few_closed_leads"}
    assert by_agent[steady]["avg_response_hours"] == by_agent[slower]["avg_response_hours"] == Decimal("1.0")
    assert (by_agent[steady]["response_rank"], by_agent[slower]["response_rank"]) == (1, 2)   # 3600 s before 3720 s
    assert (by_agent[steady]["conversion_rank"], by_agent[slower]["conversion_rank"]) == (1, 2)
    assert (by_agent[steady]["revenue_rank"], by_agent[slower]["revenue_rank"]) == (2, 1)
    # 1 + 1 + 2 = 4 against 2 + 2 + 1 = 5
    assert (by_agent[steady]["overall_rank"], by_agent[slower]["overall_rank"]) == (1, 2)

    setting(db, "ranking_min_responses", 11)   # the response minimum applies too
    assert {r["not_ranked_reason"] for r in rows(db, "SELECT * FROM reporting.agent_rankings()")} == {
        "too_few_closed_leads", "too_few_responses"}
    setting(db, "ranking_min_closed_leads", 3)
    setting(db, "ranking_min_responses", 3)
    assert rows(db, "SELECT conversion_rank FROM reporting.agent_rankings() WHERE agent_id = %s", lucky) == [
        {"conversion_rank": 1}]


def test_equal_values_share_a_place(db: psycopg.Connection) -> None:
    setting(db, "ranking_min_closed_leads", 1)
    setting(db, "ranking_min_responses", 1)
    a = _closer(db, won=1, lost=1, response_s=600, deal=1_000_000)
    b = _closer(db, won=1, lost=1, response_s=600, deal=1_000_000)
    refresh(db)
    ranks = {str(r["agent_id"]): (r["revenue_rank"], r["conversion_rank"], r["response_rank"], r["overall_rank"])
             for r in rows(db, "SELECT * FROM reporting.agent_rankings()")}
    assert ranks == {a: (1, 1, 1, 1), b: (1, 1, 1, 1)}


# --- 4. one rule for supervisors ---------------------------------------------------------------------------------

def test_supervisors_who_hold_leads_count_in_every_report_and_are_ranked(db: psycopg.Connection) -> None:
    setting(db, "ranking_min_responses", 1)
    agent = new_agent(db, property_types=("villa",))
    boss = new_agent(db, role="supervisor")
    for holder, n in ((agent, 3), (boss, 2)):
        for i in range(n):
            lead = lead_at(db, holder, NOW - timedelta(days=3, hours=i), property_type="villa")
            contact(db, lead, holder, NOW - timedelta(days=2))
    db.execute("SELECT crm.refresh_performance_metrics(now())")
    refresh(db)
    by_agent = {str(r["agent_id"]): r for r in rows(db, "SELECT * FROM reporting.conversion_by_agent()")}
    assert (by_agent[boss]["role"], by_agent[boss]["leads"]) == ("supervisor", 2)
    kinds = {(r["agent_kind"], r["lead_match"]): r["leads"]
             for r in rows(db, "SELECT * FROM reporting.specialist_vs_generalist()")}
    assert kinds == {("specialist", "in specialty"): 3, ("generalist", "any"): 2}   # all five leads
    assert {str(r["agent_id"]) for r in rows(db, "SELECT agent_id FROM reporting.agent_rankings()")} == {agent, boss}
    metrics = dashboard(db, boss, "30d")["performance_metrics"]
    assert metrics["response_time_rank"] is not None and metrics["ranked_agents"] == 2
    assert metrics["response_time_rank_reason"] is None


# --- 5. nulls and cut-offs say what they mean --------------------------------------------------------------------

def test_a_missing_response_rank_says_why(db: psycopg.Connection) -> None:
    quick, silent, once = new_agent(db), new_agent(db), new_agent(db)
    for i in range(5):
        lead = lead_at(db, quick, NOW - timedelta(days=2, hours=i))
        contact(db, lead, quick, NOW - timedelta(days=1))
    lead_at(db, silent, NOW - timedelta(days=2))
    lead = lead_at(db, once, NOW - timedelta(days=2))
    contact(db, lead, once, NOW - timedelta(days=1))
    db.execute("SELECT crm.refresh_performance_metrics(now())")

    def rank(agent: str, *args: Any) -> tuple[Any, ...]:
        m = dashboard(db, agent, *args)["performance_metrics"]
        return m["response_time_rank"], m["ranked_agents"], m["response_time_rank_reason"]

    assert rank(quick, "7d") == (1, 1, None)
    assert rank(silent, "7d") == (None, 1, "no_responses")
    assert rank(once, "7d") == (None, 1, "too_few_responses")   # 1 response, ranking_min_responses is 5
    old = dashboard(db, quick, "custom", "2024-01-01", "2024-03-31")["performance_metrics"]
    assert (old["response_time_rank"], old["response_time_rank_reason"], old["response_time_rank_months"]) == (
        None, "no_metrics_for_range", [])
    months = dashboard(db, quick, "90d")["performance_metrics"]["response_time_rank_months"]
    assert months[-1] == NOW.strftime("%Y-%m") and 3 <= len(months) <= 4   # the months 90 days touch, all kept


@pytest.fixture
def high_scorers(db: psycopg.Connection) -> list[str]:
    agent = new_agent(db)
    ids = []
    for n, score in enumerate((95, 90, 90, 85, 82)):   # two at 90: the earlier captured first
        lead = lead_at(db, agent, NOW - timedelta(days=40 + n), capture_score=score)
        close(db, lead, "lost", NOW - timedelta(days=10))
        ids.append(lead)
    lead_at(db, agent, NOW - timedelta(days=40), capture_score=60)   # not a high scorer
    refresh(db)
    return ids


def test_the_lists_come_in_pages_with_a_total(db: psycopg.Connection, high_scorers: list[str]) -> None:
    expected = [high_scorers[0], high_scorers[2], high_scorers[1], high_scorers[3], high_scorers[4]]
    seen, cursor, pages = [], None, 0
    while True:
        page = report(db, "high-score-not-converted", limit=2, cursor=cursor)
        assert page["total"] == 5 and page["filters"]["limit"] == 2
        seen += [r["lead_id"] for r in page["rows"]]
        pages += 1
        cursor = page["next"]
        if cursor is None:
            break
    assert (seen, pages) == (expected, 3)
    assert list(report(db, "high-score-not-converted"))[-3:] == ["rows", "next", "total"]
    whole = report(db, "high-score-not-converted")   # the default page holds them all
    assert (whole["next"], whole["total"], whole["filters"]["limit"]) == (None, 5, 100)
    # the same walk in SQL: p_after is the last lead seen
    second = [str(r["lead_id"]) for r in rows(db, "SELECT lead_id FROM reporting.high_score_not_converted("
                                                  "p_limit => 2, p_after => %s)", expected[1])]
    assert second == expected[2:4]
    assert one(db, "SELECT count(*) FROM reporting.high_score_not_converted_leads()") == 5
    unpaged = report(db, "conversion-by-source")
    assert (unpaged["next"], unpaged["total"], len(unpaged["rows"])) == (None, 1, 1)


def test_bad_paging_and_dating_are_named_errors(db: psycopg.Connection, high_scorers: list[str]) -> None:
    first = report(db, "high-score-not-converted", limit=2)
    with db_error("PT422", "invalid_cursor"):   # a cursor belongs to its report and filters
        report(db, "high-score-not-converted", limit=2, cursor=first["next"], **{"from": "2020-01-01"})
    with db_error("PT422", "invalid_cursor"):
        report(db, "high-score-not-converted", cursor="not a cursor")
    with db_error("PT422", "invalid_cursor"):
        report(db, "low-score-converted", cursor=first["next"])
    for bad in ({"limit": 0}, {"limit": 501}):
        with db_error("PT422", "invalid_report_parameter"):
            report(db, "high-score-not-converted", **bad)
    with db_error("PT422", "invalid_report_parameter"):   # not a list
        report(db, "conversion-by-source", limit=10)
    with db_error("PT422", "invalid_report_parameter"):   # a cohort list: by capture only
        report(db, "high-score-not-converted", dated_by="close")
    with db_error("PT422", "invalid_report_parameter"):
        db.execute("SELECT * FROM reporting.revenue_by_source(NULL, NULL, 'sold')")
    with db_error("PT422", "invalid_cursor"):
        db.execute("SELECT * FROM reporting.high_score_not_converted(p_after => gen_random_uuid())")


# --- 6. revenue by close date too --------------------------------------------------------------------------------

def test_revenue_by_capture_date_and_by_close_date(db: psycopg.Connection) -> None:
    agent = new_agent(db)
    this_month = NOW.replace(day=1, hour=0, minute=0, second=0)
    before = this_month - timedelta(days=10)
    early = lead_at(db, agent, before)                  # captured last month, converted this month
    close(db, early, "converted", this_month + (NOW - this_month) / 2, 3_000_000)
    cohort = lead_at(db, agent, before)                 # captured and converted last month
    close(db, cohort, "converted", before + timedelta(hours=1), 1_000_000)
    refresh(db)
    since = this_month.date()
    by_capture = rows(db, "SELECT * FROM reporting.revenue_by_source(%s, NULL)", since)
    by_close = rows(db, "SELECT * FROM reporting.revenue_by_source(%s, NULL, 'close')", since)
    assert by_capture == []
    assert [(r["conversions"], r["revenue_aed"]) for r in by_close] == [(1, 3_000_000)]
    answer = report(db, "revenue-by-source", **{"from": since, "dated_by": "close"})
    assert answer["filters"]["dated_by"] == "close" and answer["rows"][0]["revenue_aed"] == 3_000_000
    assert report(db, "revenue-by-source")["filters"]["dated_by"] == "capture"   # the default, named
    last_month = rows(db, "SELECT conversions, revenue_aed FROM reporting.revenue_by_source(%s, %s, 'close')",
                      before.date(), (this_month - timedelta(days=1)).date())
    assert last_month == [{"conversions": 1, "revenue_aed": 1_000_000}]
    assert one(db, "SELECT converted FROM reporting.conversion_by_source(%s, NULL, 'close')", since) == 1


# --- 7. task priority that follows the lead ----------------------------------------------------------------------

def test_pending_task_priority_follows_the_lead_and_orders_the_list(db: psycopg.Connection) -> None:
    agent = new_agent(db)
    cooled = lead_at(db, agent, NOW - timedelta(days=3), capture_score=85)   # scores as given
    hot = lead_at(db, agent, NOW - timedelta(days=3), capture_score=90)
    cold = lead_at(db, agent, NOW - timedelta(days=3), capture_score=30)

    def task(lead: str, due: datetime, priority: str) -> str:
        return str(one(db, "INSERT INTO crm.follow_up_tasks (lead_id, agent_id, task_type, priority, due_at) "
                           "VALUES (%s, %s, 'call', %s, %s) RETURNING task_id", lead, agent, priority, due))

    booked_high = task(cooled, NOW + timedelta(hours=1), "high")           # booked when the lead scored 85
    db.execute("UPDATE crm.leads SET score = 60 WHERE lead_id = %s", (cooled,))
    later_hot = task(hot, NOW + timedelta(hours=5), "high")
    missed = task(cold, NOW - timedelta(days=2), "low")                   # overdue for two days: raised a level
    due_cold = task(cold, NOW + timedelta(hours=2), "low")
    pending = one(db, "SELECT crm.dashboard_pending_tasks(%s, now())", agent)
    assert [(t["task_id"], t["priority"]) for t in pending] == [
        (later_hot, "high"), (missed, "medium"), (booked_high, "medium"), (due_cold, "low")]
    assert one(db, "SELECT priority FROM crm.follow_up_tasks WHERE task_id = %s", booked_high) == "high"  # as booked
    setting(db, "follow_up_overdue_raise", "3 days")
    assert one(db, "SELECT crm.follow_up_priority(30, now() - interval '2 days', now())") == "low"
    assert dashboard(db, agent)["pending_tasks"][0]["task_id"] == later_hot


# --- 8. no future in the data ------------------------------------------------------------------------------------

def test_invariants_catch_the_future_and_a_first_contact_that_is_not_the_first(db: psycopg.Connection) -> None:
    agent = new_agent(db)
    lead = lead_at(db, agent, NOW - timedelta(days=1))
    contact(db, lead, agent, NOW - timedelta(hours=20))
    contact(db, lead, agent, datetime.now(DUBAI) + timedelta(minutes=2))   # within the clock-skew allowance
    assert rows(db, "SELECT * FROM reporting.invariant_violations") == []
    contact(db, lead, agent, NOW + timedelta(days=1))
    found = {(r["rule"], r["entity"]) for r in rows(db, "SELECT * FROM reporting.invariant_violations")}
    assert found == {("business_timestamp_in_future", "activity"), ("business_timestamp_in_future", "lead")}
    other = lead_at(db, agent, NOW - timedelta(days=1))
    contact(db, other, agent, NOW - timedelta(hours=5))
    db.execute("UPDATE crm.leads SET first_contacted_at = first_contacted_at + interval '1 hour' WHERE lead_id = %s",
               (other,))   # a DBA's edit, or an import that wrote it by hand
    mismatch = rows(db, "SELECT entity_id, detail FROM reporting.invariant_violations "
                        "WHERE rule = 'first_contact_mismatch'")
    assert [m["entity_id"] for m in mismatch] == [other]
    setting(db, "future_timestamp_allowance", "2 days")
    assert {r["rule"] for r in rows(db, "SELECT rule FROM reporting.invariant_violations")} == {
        "first_contact_mismatch"}


def test_speed_to_lead_bands_percentiles_and_breaches(db: psycopg.Connection) -> None:
    """Three leads captured an hour ago: first contact after 1 minute, after 40 minutes, and none yet: the bands, the
    p50/p90 over the contacted, the breaches of the 5-minute first_response_sla."""
    agent = new_agent(db)
    start = datetime.now().astimezone() - timedelta(hours=1)
    for wait in (60, 40 * 60, None):
        lead = new_lead(db, created_at=start, phone=None)
        assign(db, lead, agent)
        if wait is not None:
            db.execute("INSERT INTO crm.lead_activities (lead_id, agent_id, activity_type, occurred_at) "
                       "VALUES (%s, %s, 'call', %s)", (lead, agent, start + timedelta(seconds=wait)))
    db.execute("SELECT crm.refresh_analytics_snapshot(true)")
    rows = {(r[0], r[1]): r for r in db.execute(
        "SELECT dimension, key, leads, contacted, first_response_p50_seconds, first_response_p90_seconds, breached, "
        "breach_rate FROM reporting.speed_to_lead(current_date - 1, NULL, 'every')")}
    assert rows[("all", None)][2:] == (3, 2, 1230, 2166, 2, Decimal("66.7"))   # p50, p90 of 60 and 2400 s
    assert rows[("response_band", "within 5 min")][2:4] == (1, 1)
    assert rows[("response_band", "within 1 h")][2:4] == (1, 1)
    assert rows[("response_band", "none yet")][2:4] == (1, 0)
    assert rows[("agent", agent)][2] == 3
    # one dimension per call, the bands by default, in their order; the same figures as every
    bands = db.execute("SELECT dimension, key, leads FROM reporting.speed_to_lead(current_date - 1, NULL)").fetchall()
    assert bands == [("response_band", "within 5 min", 1), ("response_band", "within 1 h", 1),
                     ("response_band", "none yet", 1)]
    overall = db.execute("SELECT * FROM reporting.speed_to_lead(current_date - 1, NULL, 'all')").fetchone()
    assert overall is not None and overall[:8] == rows[("all", None)]
    empty = db.execute("SELECT * FROM reporting.speed_to_lead(current_date + 2, NULL, 'all')").fetchall()
    assert empty == []   # no leads, no row (not a division by zero)
    with db_error("PT422", "invalid_report_parameter"):
        db.execute("SELECT * FROM reporting.speed_to_lead(NULL, NULL, 'agent; DROP TABLE crm.leads')")
