"""The outbox (27_crm_events.sql) and the dispatcher's queue (51_jobs_webhooks.sql), as psql meets them: every
topic is written by the change that causes it and only when that change commits, subscriptions get their own
deliveries, claims are disjoint and keep per-lead order, failures back off and die, 410 disables."""

from __future__ import annotations

import json
from typing import Any

import psycopg
import pytest
from psycopg.types.json import Jsonb

from tests.db.factories import assign, capture, db_error, new_agent, new_lead, violations, walk_to


def events(conn: psycopg.Connection, since: int = 0, lead_id: str | None = None) -> list[tuple[str, dict[str, Any]]]:
    rows = conn.execute("SELECT topic, data FROM crm.outbox_events WHERE event_id > %s "
                        "AND (%s::uuid IS NULL OR lead_id = %s::uuid) ORDER BY event_id",
                        (since, lead_id, lead_id)).fetchall()
    return [(row[0], row[1]) for row in rows]


def last_event(conn: psycopg.Connection) -> int:
    row = conn.execute("SELECT coalesce(max(event_id), 0) FROM crm.outbox_events").fetchone()
    assert row is not None
    return int(row[0])


def subscribe(conn: psycopg.Connection, topics: list[str], agent_id: str | None = None, active: bool = True) -> str:
    conn.execute("UPDATE crm.settings SET value = 'true' WHERE setting_key = 'webhook_allow_private_targets'")
    row = conn.execute("INSERT INTO crm.webhook_subscriptions (url, topics, agent_id, secret, is_active) "
                       "VALUES ('http://127.0.0.1:9/hook', %s, %s, crm.new_webhook_secret(), %s) "
                       "RETURNING subscription_id::text", (topics, agent_id, active)).fetchone()
    assert row is not None
    return str(row[0])


def claim(conn: psycopg.Connection, limit: int = 100) -> list[tuple[str, int, str | None]]:
    rows = conn.execute("SELECT subscription_id::text, event_id, lead_id::text FROM jobs.claim_deliveries(%s)",
                        (limit,)).fetchall()
    return [(row[0], row[1], row[2]) for row in rows]


def record(conn: psycopg.Connection, results: list[dict[str, Any]]) -> dict[str, int]:
    row = conn.execute("SELECT jobs.record_deliveries(%s)", (Jsonb(results),)).fetchone()
    assert row is not None
    counts: dict[str, int] = row[0]
    return counts


def outcome(subscription: str, event_id: int, result: str, status: int | None = None) -> dict[str, Any]:
    return {"subscription_id": subscription, "event_id": event_id, "outcome": result, "status_code": status,
            "duration_ms": 3.5, "error": None if result == "delivered" else f"HTTP {status}"}


def test_a_capture_emits_captured_assigned_and_its_follow_up_in_that_order(seeded_db: psycopg.Connection) -> None:
    db = seeded_db
    since = last_event(db)
    body = capture(db, "bayut", property_type="apartment", preferred_areas=["Dubai Marina"], budget_max=1_500_000,
                   accept=False)
    lead = body["body"]["lead_id"]
    got = events(db, since)
    assert [topic for topic, _ in got] == ["lead.captured", "lead.assigned", "lead.offered", "follow_up.scheduled"]
    captured, assigned, offered, scheduled = (data for _, data in got)
    assert offered["offer_round"] == 1 and offered["respond_by"] == body["body"]["offer"]["respond_by"]
    assert captured["lead_id"] == lead and captured["source_type"] == "bayut"
    assert captured["score"] == body["body"]["lead_score"] and captured["preferred_areas"]  # the areas, stored after
    assert captured["agent_id"] == body["body"]["assigned_agent"]["agent_id"]
    assert assigned["agent"]["agent_id"] == captured["agent_id"] and assigned["method"] == "auto"
    assert scheduled["lead_id"] == lead and scheduled["agent_id"] == captured["agent_id"]
    envelope = db.execute("SELECT crm.event_envelope(e)::text, e.actor FROM crm.outbox_events e "
                          "WHERE e.event_id = %s", (since + 1,)).fetchone()
    assert envelope is not None
    sent = json.loads(envelope[0])
    assert list(sent) == ["event_id", "topic", "version", "occurred_at", "lead_id", "agent_id", "actor", "data"]
    assert sent["version"] == 1 and sent["actor"] == "test"
    # the assignment's and the follow-up's events name the actor their rows recorded: the same one
    actors = db.execute("SELECT e.topic, e.actor, a.assigned_by, t.created_by FROM crm.outbox_events e "
                        "JOIN crm.lead_assignments a ON a.lead_id = e.lead_id "
                        "JOIN crm.follow_up_tasks t ON t.lead_id = e.lead_id "
                        "WHERE e.event_id > %s ORDER BY e.event_id", (since,)).fetchall()
    assert [row[0] for row in actors] == ["lead.captured", "lead.assigned", "lead.offered", "follow_up.scheduled"]
    assert {value for row in actors for value in row[1:]} == {"test"}
    # the lead's creator, stamped once (migration 0034), is what its first history row and audit INSERT row name
    creator = db.execute("SELECT l.created_by, h.changed_by, u.changed_by FROM crm.leads l "
                         "JOIN crm.lead_conversion_history h ON h.lead_id = l.lead_id AND h.from_status IS NULL "
                         "JOIN crm.lead_audit u ON u.lead_id = l.lead_id AND u.operation = 'INSERT' "
                         "WHERE l.lead_id = %s", (lead,)).fetchone()
    assert creator == ("test", "test", "test")
    # a DBA's insert: stamped with the session's actor, unless it names the creator (an import)
    with db.transaction():
        db.execute("SELECT crm.set_actor('dba-session')")
        rows = db.execute("INSERT INTO crm.leads (source_type, first_name, last_name, phone, created_by) "
                          "VALUES ('website', 'Nour', 'Stamp', '+971509876501', DEFAULT), "
                          "('website', 'Nour', 'Import', '+971509876502', 'old-crm:export') "
                          "RETURNING created_by").fetchall()
        assert rows == [("dba-session",), ("old-crm:export",)]


@pytest.fixture
def seeded_db(seeded_db_url: str) -> Any:
    with psycopg.connect(seeded_db_url, autocommit=True) as conn:
        yield conn


def test_a_rolled_back_change_emits_nothing_and_a_committed_psql_change_does(db: psycopg.Connection) -> None:
    new_agent(db)
    since = last_event(db)
    with pytest.raises(psycopg.errors.RaiseException), db.transaction():
        capture(db, "website")
        db.execute("DO $$ BEGIN RAISE EXCEPTION 'forced after the insert'; END $$")
    assert events(db, since) == []
    # psql: an UPDATE of a lead's status, and a direct INSERT of a lead
    lead = new_lead(db)
    assert [topic for topic, _ in events(db, since)] == ["lead.captured"]
    walk_to(db, lead, "contacted")   # gives it an agent (lead.assigned) first
    topics = [(topic, data) for topic, data in events(db, since)]
    assert [t for t, _ in topics] == ["lead.captured", "lead.assigned", "lead.status_changed"]
    changed = topics[-1][1]
    assert (changed["old_status"], changed["new_status"]) == ("new", "contacted")
    assert changed["changed_by"] == db.execute("SELECT crm.actor()").fetchone()[0]  # the DBA's login


def test_every_topic_has_its_change(db: psycopg.Connection) -> None:
    boss = new_agent(db, role="supervisor")
    first_agent, second_agent = new_agent(db), new_agent(db)
    db.execute("UPDATE crm.agents SET supervisor_id = %s WHERE role = 'agent'", (boss,))
    since = last_event(db)
    # the same client from another source within the window: lead.duplicate_detected
    first = capture(db, "bayut", phone="+971501112233")["body"]
    second = capture(db, "website", phone="+971501112233")["body"]
    assert second["duplicate_of"]["lead_id"] == first["lead_id"]
    dup = [d for t, d in events(db, since) if t == "lead.duplicate_detected"]
    assert len(dup) == 1 and dup[0]["lead_id"] == second["lead_id"] and dup[0]["duplicate_of"] == first["lead_id"]
    # a reassignment by a supervisor: from, to, reason
    holder = first["assigned_agent"]["agent_id"]
    target = second_agent if holder == first_agent else first_agent
    db.execute("SELECT api.reassign_lead(%s, 'customer asked', %s, 'test')", (first["lead_id"], target))
    reassigned = [d for t, d in events(db, since) if t == "lead.reassigned"]
    assert len(reassigned) == 1 and reassigned[0]["reason"] == "customer asked"
    assert (reassigned[0]["from_agent"]["agent_id"], reassigned[0]["to_agent"]["agent_id"]) == (holder, target)
    # an agent filled to the cap, in psql
    small = new_agent(db, max_active_leads=2)
    mark = last_event(db)
    for _ in range(2):
        assign(db, new_lead(db), small)
    capacity = [d for t, d in events(db, mark) if t == "agent.capacity_reached"]
    assert len(capacity) == 1 and capacity[0]["agent"]["agent_id"] == small and capacity[0]["active_leads"] == 2
    # an overdue follow-up, swept: follow_up.escalated to the agent's supervisor
    lead = first["lead_id"]
    db.execute("INSERT INTO crm.follow_up_tasks (lead_id, agent_id, task_type, due_at) "
               "VALUES (%s, %s, 'call', now() - interval '31 days')", (lead, target))
    mark = last_event(db)
    db.execute("SELECT jobs.run_sweeps()")
    escalated = [d for t, d in events(db, mark) if t == "follow_up.escalated"]
    assert len(escalated) == 1 and escalated[0]["lead_id"] == lead and escalated[0]["agent_id"] == target
    assert escalated[0]["escalated_to"]["agent_id"] == boss
    # nobody with room: the lead is stored and lead.queued
    db.execute("UPDATE crm.agents SET max_active_leads = active_leads")
    mark = last_event(db)
    queued = capture(db, "walk_in")
    assert queued["status"] == 202
    assert [t for t, _ in events(db, mark)] == ["lead.captured", "lead.queued"]
    topics = {row[0] for row in db.execute("SELECT DISTINCT topic FROM crm.outbox_events WHERE event_id > %s",
                                           (since,))}
    offers = {"lead.offered", "lead.accepted", "lead.offer_declined", "lead.offer_expired", "lead.pooled",
              "lead.claimed", "sla.breached"}   # tests/db/test_offers.py
    every = {row[0] for row in db.execute("SELECT topic FROM crm.event_topics")}
    assert topics | {"lead.status_changed"} | offers == every
    assert violations(db) == []


def test_subscriptions_get_their_topics_and_their_agent_only(db: psycopg.Connection) -> None:
    agent = new_agent(db)
    everything = subscribe(db, ["*"])
    assigned_only = subscribe(db, ["lead.assigned"])
    mine = subscribe(db, ["lead.assigned", "follow_up.scheduled", "lead.captured"], agent_id=agent)
    disabled = subscribe(db, ["*"], active=False)
    since = last_event(db)
    capture(db, "website", accept=False)   # the only agent with a profile-free match: `agent`
    rows = db.execute("SELECT subscription_id::text, e.topic FROM crm.webhook_deliveries d "
                      "JOIN crm.outbox_events e USING (event_id) WHERE e.event_id > %s ORDER BY e.event_id",
                      (since,)).fetchall()
    by_sub: dict[str, list[str]] = {}
    for sub, topic in rows:
        by_sub.setdefault(sub, []).append(topic)
    assert by_sub[everything] == ["lead.captured", "lead.assigned", "lead.offered", "follow_up.scheduled"]
    assert by_sub[assigned_only] == ["lead.assigned"]
    assert by_sub[mine] == ["lead.captured", "lead.assigned", "follow_up.scheduled"]
    assert disabled not in by_sub
    other = new_agent(db)
    db.execute("UPDATE crm.agents SET is_active = false WHERE agent_id = %s", (agent,))
    mark = last_event(db)
    capture(db, "website")   # goes to `other`: not for `mine`
    subs = {row[0] for row in db.execute("SELECT subscription_id::text FROM crm.webhook_deliveries "
                                         "WHERE event_id > %s", (mark,))}
    assert mine not in subs and everything in subs
    assert other


def test_events_enabled_false_writes_nothing(db: psycopg.Connection) -> None:
    new_agent(db)
    subscribe(db, ["*"])
    db.execute("UPDATE crm.settings SET value = 'false' WHERE setting_key = 'events_enabled'")
    since = last_event(db)
    capture(db, "website")
    assert events(db, since) == []
    assert db.execute("SELECT count(*) FROM crm.webhook_deliveries").fetchone() == (0,)


def test_subscription_rules_hold_in_psql(db: psycopg.Connection) -> None:
    with db_error("PT422", "unknown_topic"):
        db.execute("INSERT INTO crm.webhook_subscriptions (url, topics, secret) "
                   "VALUES ('https://example.com/h', '{lead.captured,lead.sold}', crm.new_webhook_secret())")
    for url in ("http://127.0.0.1/h", "http://10.1.2.3/h", "http://[::1]:8080/h", "http://169.254.169.254/latest",
                "http://localhost:9000/h", "http://192.168.0.10/h"):
        with db_error("PT422", "webhook_url_refused"):
            db.execute("INSERT INTO crm.webhook_subscriptions (url, topics, secret) "
                       "VALUES (%s, '{*}', crm.new_webhook_secret())", (url,))
    with db_error("23514", "webhook_subscriptions_url_format"):
        db.execute("INSERT INTO crm.webhook_subscriptions (url, topics, secret) "
                   "VALUES ('ftp://example.com/h', '{*}', crm.new_webhook_secret())")
    db.execute("INSERT INTO crm.webhook_subscriptions (url, topics, secret) "
               "VALUES ('https://93.184.216.34/h', '{lead.captured,lead.captured}', crm.new_webhook_secret())")
    row = db.execute("SELECT topics, length(secret) FROM crm.webhook_subscriptions").fetchone()
    assert row == (["lead.captured"], 70)
    refusal = db.execute("SELECT crm.webhook_target_refusal('https://hooks.example.com/x', %s::inet[]), "
                         "crm.webhook_target_refusal('https://hooks.example.com/x', '{93.184.216.34}'::inet[])",
                         (["10.0.0.7"],)).fetchone()
    assert refusal == ("the host name resolves to a private or local address", None)


def test_claims_are_disjoint_across_connections(db_url: str, db: psycopg.Connection) -> None:
    new_agent(db)
    sub = subscribe(db, ["lead.captured"])
    for _ in range(6):
        capture(db, "website")
    with psycopg.connect(db_url) as a, psycopg.connect(db_url) as b:
        first = claim(a, 3)        # a holds its claim's row locks (its transaction is open)
        second = claim(b, 10)      # b skips them and does not wait
        a.commit()
        b.commit()
    assert len(first) == 3 and len(second) == 3
    assert not {e for _, e, _ in first} & {e for _, e, _ in second}
    assert claim(db) == []         # all six are leased now
    assert all(s == sub for s, _, _ in first + second)


def test_per_lead_order_a_pending_earlier_delivery_holds_back_the_later(db: psycopg.Connection) -> None:
    new_agent(db)
    sub = subscribe(db, ["lead.captured", "lead.assigned"])
    capture(db, "website")
    batch = claim(db)
    assert len(batch) == 2 and batch[0][2] == batch[1][2]   # one lead's two, in one claim (sent in order)
    captured, assigned = batch[0][1], batch[1][1]
    counts = record(db, [outcome(sub, captured, "failed", 503), outcome(sub, assigned, "skipped")])
    assert counts["failed"] == 1 and counts["skipped"] == 1
    # the later one is due again, but waits behind the earlier one's backoff
    assert claim(db) == []
    state = db.execute("SELECT state, attempts, next_attempt_at > now() FROM crm.webhook_deliveries "
                       "WHERE event_id = %s", (captured,)).fetchone()
    assert state == ("pending", 1, True)
    db.execute("UPDATE crm.webhook_deliveries SET next_attempt_at = now() WHERE event_id = %s", (captured,))
    assert [e for _, e, _ in claim(db)] == [captured, assigned]
    record(db, [outcome(sub, captured, "delivered", 200), outcome(sub, assigned, "delivered", 204)])
    log = db.execute("SELECT attempt, outcome, status_code, next_attempt_at IS NOT NULL FROM crm.webhook_attempts "
                     "WHERE event_id = %s ORDER BY attempt_id", (captured,)).fetchall()
    assert log == [(1, "failed", 503, True), (2, "delivered", 200, False)]
    assert db.execute("SELECT count(*) FROM crm.webhook_deliveries WHERE state = 'delivered'").fetchone() == (2,)


def test_backoff_grows_and_a_delivery_dies_after_the_retry_limit(db: psycopg.Connection) -> None:
    new_agent(db)
    sub = subscribe(db, ["lead.captured"])
    db.execute("UPDATE crm.settings SET value = '\"10 seconds\"' WHERE setting_key = 'webhook_retry_base'")
    capture(db, "website")
    delays = []
    for _ in range(4):
        db.execute("UPDATE crm.webhook_deliveries SET next_attempt_at = now()")
        ((_, event, _),) = claim(db)
        record(db, [outcome(sub, event, "failed", 500)])
        row = db.execute("SELECT extract(epoch FROM next_attempt_at - now()) FROM crm.webhook_deliveries").fetchone()
        assert row is not None
        delays.append(float(row[0]))
    for attempt, delay in enumerate(delays):   # 10 s x 2^n, +-20 %
        assert 0.8 * 10 * 2**attempt <= delay <= 1.2 * 10 * 2**attempt, delays
    db.execute("UPDATE crm.outbox_events SET occurred_at = now() - interval '25 hours'")
    db.execute("UPDATE crm.webhook_deliveries SET next_attempt_at = now()")
    ((_, event, _),) = claim(db)
    assert record(db, [outcome(sub, event, "failed", 502)])["dead"] == 1
    assert db.execute("SELECT state, dead_at IS NOT NULL FROM crm.webhook_deliveries").fetchone() == ("dead", True)
    assert claim(db) == []
    last = db.execute("SELECT outcome FROM crm.webhook_attempts ORDER BY attempt_id DESC LIMIT 1").fetchone()
    assert last == ("dead",)
    health = db.execute("SELECT pending, dead, failed_attempts_24h FROM reporting.webhook_health").fetchone()
    assert health == (0, 1, 5)


def test_410_disables_the_subscription_and_enabling_it_resumes(db: psycopg.Connection) -> None:
    new_agent(db)
    sub = subscribe(db, ["lead.captured"])
    capture(db, "website")
    ((_, event, _),) = claim(db)
    assert record(db, [outcome(sub, event, "gone", 410)])["gone"] == 1
    row = db.execute("SELECT is_active, disabled_reason FROM crm.webhook_subscriptions").fetchone()
    assert row == (False, "the receiver answered 410 Gone")
    capture(db, "website")   # nothing new for a disabled subscription
    assert db.execute("SELECT count(*) FROM crm.webhook_deliveries").fetchone() == (1,)
    db.execute("UPDATE crm.webhook_subscriptions SET is_active = true")
    assert db.execute("SELECT disabled_reason FROM crm.webhook_subscriptions").fetchone() == (None,)
    assert [e for _, e, _ in claim(db)] == [event]


def test_a_lease_runs_out_and_another_dispatcher_takes_over(db: psycopg.Connection) -> None:
    new_agent(db)
    subscribe(db, ["lead.captured"])
    db.execute("UPDATE crm.settings SET value = '\"1 second\"' WHERE setting_key = 'webhook_lease'")
    capture(db, "website")
    assert len(claim(db)) == 1   # then the claimer dies without recording anything
    assert claim(db) == []
    db.execute("SELECT pg_sleep(1.1)")
    assert len(claim(db)) == 1


def test_the_sweep_prunes_old_finished_events_only(db: psycopg.Connection) -> None:
    new_agent(db)
    sub = subscribe(db, ["lead.captured"])
    capture(db, "website")
    capture(db, "website")
    batch = claim(db)
    record(db, [outcome(sub, batch[0][1], "delivered", 200), outcome(sub, batch[1][1], "failed", 500)])
    db.execute("UPDATE crm.outbox_events SET occurred_at = now() - interval '31 days'")
    total = db.execute("SELECT count(*) FROM crm.outbox_events").fetchone()
    assert total is not None and total[0] > 2
    result = db.execute("SELECT jobs.run_sweeps()").fetchone()
    assert result is not None
    assert result[0]["events_pruned"] == total[0] - 1
    left = db.execute("SELECT d.state FROM crm.outbox_events e JOIN crm.webhook_deliveries d USING (event_id)"
                      ).fetchall()
    assert left == [("pending",)]   # the pending delivery's event stays; the delivered one went with its attempts
    assert db.execute("SELECT count(*) FROM crm.webhook_attempts WHERE outcome = 'delivered'").fetchone() == (0,)


def test_a_failing_receiver_holds_back_only_its_own_leads(db: psycopg.Connection) -> None:
    """The head of each lead's queue failed, its later deliveries wait; they never fill the claim window, so
    another subscriber's delivery is claimed at once, and an idle dispatcher sleeps until the head's retry."""
    new_agent(db)
    failing = subscribe(db, ["*"])
    for _ in range(5):
        capture(db, "website")
    batch = claim(db, 500)
    heads: dict[str, int] = {}
    for _, event, lead in sorted(batch, key=lambda r: r[1]):
        if lead:
            heads.setdefault(lead, event)   # each lead's first delivery
    results = [outcome(failing, event, "failed" if heads.get(lead) == event else "skipped", 503)
               for _, event, lead in batch]
    record(db, results)
    healthy = subscribe(db, ["lead.captured"])
    capture(db, "website")
    got = claim(db, 2)   # a window of two: the ten blocked ones (earlier events) do not fill it
    assert healthy in {sub for sub, _, _ in got}
    # nothing due is left but blocked deliveries: an idle dispatcher sleeps until a head's retry or lease
    assert db.execute("SELECT jobs.next_delivery_at() > now()").fetchone() == (True,)


def test_a_lead_moved_twice_in_one_transaction_names_each_move(db: psycopg.Connection) -> None:
    a, x, y = new_agent(db), new_agent(db), new_agent(db)
    lead = new_lead(db)
    assign(db, lead, a)
    since = last_event(db)
    with db.transaction():
        db.execute("SELECT crm.set_clock(now())")
        db.execute("SELECT api.reassign_lead(%s, 'first move', %s, 'test', now())", (lead, x))
        db.execute("SELECT api.reassign_lead(%s, 'second move', %s, 'test', now())", (lead, y))
    moves = [(d["from_agent"]["agent_id"], d["to_agent"]["agent_id"], d["reason"])
             for t, d in events(db, since) if t == "lead.reassigned"]
    assert moves == [(a, x, "first move"), (x, y, "second move")]


def test_a_subscription_deleted_while_its_claim_is_out_loses_nothing_else(db_url: str, db: psycopg.Connection) -> None:
    new_agent(db)
    gone = subscribe(db, ["lead.captured"])
    kept = subscribe(db, ["lead.captured"])
    capture(db, "website")
    batch = claim(db)
    assert {s for s, _, _ in batch} == {gone, kept}
    with psycopg.connect(db_url) as deleting:
        deleting.execute("DELETE FROM crm.webhook_subscriptions WHERE subscription_id = %s", (gone,))
        deleting.commit()
    counts = record(db, [outcome(s, e, "delivered", 200) for s, e, _ in batch])
    assert counts["delivered"] == 1
    assert db.execute("SELECT count(*) FROM crm.webhook_attempts").fetchone() == (1,)


def test_capacity_reached_when_the_cap_is_lowered_onto_the_load(db: psycopg.Connection) -> None:
    agent = new_agent(db)
    for _ in range(2):
        assign(db, new_lead(db), agent)
    since = last_event(db)
    db.execute("UPDATE crm.agents SET max_active_leads = 2 WHERE agent_id = %s", (agent,))
    assert [t for t, _ in events(db, since)] == ["agent.capacity_reached"]


def test_ambiguous_and_embedding_address_literals_are_refused(db: psycopg.Connection) -> None:
    for url in ("http://0177.0.0.1/h", "http://00000000177.0.0.1/h", "http://127.1/h", "http://2130706433/h",
                "http://[::127.0.0.1]/h", "http://[64:ff9b::7f00:1]/h", "http://[2002:7f00:1::]/h"):
        with db_error("PT422", "webhook_url_refused"):
            db.execute("INSERT INTO crm.webhook_subscriptions (url, topics, secret) "
                       "VALUES (%s, '{*}', crm.new_webhook_secret())", (url,))
    refusal = db.execute("SELECT crm.webhook_target_refusal('http://0x7f000001/h', '{127.0.0.1}'::inet[])").fetchone()
    assert refusal == ("the host name resolves to a private or local address",)
