"""Offers and the pond (29_crm_offers.sql) as psql meets them: every routed lead is an offer with a response clock,
accepted (or by a first outbound contact) or moved on when declined or expired, never back to an agent of its chain,
to the pond after max_offers; the first claim wins; each race has one outcome."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import psycopg

from tests.db.factories import capture, db_error, new_agent, new_lead, on_shift_always, violations

TUESDAY_10 = datetime(2026, 12, 1, 6, 0, tzinfo=UTC)     # Tuesday 10:00 in Dubai, the office open
TUESDAY_23 = datetime(2026, 12, 1, 19, 0, tzinfo=UTC)    # 23:00: closed until Wednesday 09:00 (05:00 UTC)


def offer(db: psycopg.Connection, lead: str) -> dict[str, Any] | None:
    row = db.execute("SELECT agent_id::text, offer_round, respond_by, accepted_at FROM crm.lead_assignments "
                     "WHERE lead_id = %s AND released_at IS NULL", (lead,)).fetchone()
    keys = ("agent_id", "offer_round", "respond_by", "accepted_at")
    return None if row is None else dict(zip(keys, row, strict=True))


def topics(db: psycopg.Connection, lead: str) -> list[str]:
    return [r[0] for r in db.execute("SELECT topic FROM crm.outbox_events WHERE lead_id = %s ORDER BY event_id",
                                     (lead,))]


def expire(db: psycopg.Connection, at: datetime) -> dict[str, int]:
    row = db.execute("SELECT jobs.expire_offers(100, %s)", (at,)).fetchone()
    assert row is not None
    result: dict[str, int] = row[0]
    return result


def test_a_capture_is_an_offer_with_a_clock_by_day_and_by_night(db: psycopg.Connection) -> None:
    new_agent(db)
    day = capture(db, "website", now=TUESDAY_10, accept=False)["body"]
    assert day["offer"]["respond_by"] == (TUESDAY_10 + timedelta(minutes=5)).isoformat()
    assert day["offer"]["offer_round"] == 1 and day["offer"]["available_now"] is True
    night = capture(db, "website", now=TUESDAY_23, accept=False)["body"]
    assert night["offer"]["respond_by"] == datetime(2026, 12, 2, 5, 5, tzinfo=UTC).isoformat()
    assert night["offer"]["available_now"] is False
    assert topics(db, day["lead_id"])[:3] == ["lead.captured", "lead.assigned", "lead.offered"]


def test_accept_stops_the_clock_once(db: psycopg.Connection) -> None:
    on_shift_always(db, new_agent(db))
    lead = capture(db, "website", accept=False)["body"]["lead_id"]
    state = db.execute("SELECT api.accept_lead(%s, 'test')", (lead,)).fetchone()
    assert state is not None and state[0]["accepted_at"] is not None
    with db_error("PT409", "no_open_offer"):
        db.execute("SELECT api.accept_lead(%s, 'test')", (lead,))
    assert "lead.accepted" in topics(db, lead)
    assert expire(db, datetime.now(UTC) + timedelta(hours=1))["expired"] == 0   # an accepted offer stays


def test_a_first_call_accepts_and_a_late_accept_is_refused(db: psycopg.Connection) -> None:
    agent = on_shift_always(db, new_agent(db))
    lead = capture(db, "website", accept=False)["body"]["lead_id"]
    db.execute("INSERT INTO crm.lead_activities (lead_id, agent_id, activity_type, outcome) "
               "VALUES (%s, %s, 'call', 'positive')", (lead, agent))
    accepted = offer(db, lead)
    assert accepted is not None and accepted["accepted_at"] is not None
    late = capture(db, "website", now=datetime.now(UTC) - timedelta(minutes=10), accept=False)["body"]["lead_id"]
    with db_error("PT409", "offer_expired"):
        db.execute("SELECT api.accept_lead(%s, 'test')", (late,))


def test_an_unanswered_offer_moves_along_its_chain_then_to_the_pond(db: psycopg.Connection) -> None:
    agents = [new_agent(db, performance=p) for p in (90, 80, 70, 60)]
    lead = capture(db, "website", now=TUESDAY_10, accept=False)["body"]["lead_id"]
    seen = []
    for round_ in (1, 2, 3):
        current = offer(db, lead)
        assert current is not None and current["offer_round"] == round_
        seen.append(current["agent_id"])
        done = expire(db, current["respond_by"] + timedelta(seconds=1))
        assert done["expired"] == 1
    assert seen == agents[:3]   # the ranking's order, never back to an agent of the chain
    assert offer(db, lead) is None
    pooled = db.execute("SELECT pooled_at IS NOT NULL FROM crm.leads WHERE lead_id = %s", (lead,)).fetchone()
    assert pooled == (True,)
    assert topics(db, lead).count("lead.offer_expired") == 3 and topics(db, lead)[-1] == "lead.pooled"
    assert db.execute("SELECT count(*) FROM crm.follow_up_tasks WHERE lead_id = %s AND status = 'open'",
                      (lead,)).fetchone() == (0,)
    # the supervisors hear of it once it waits past pond_alert_after
    pooled_at = db.execute("SELECT pooled_at FROM crm.leads WHERE lead_id = %s", (lead,)).fetchone()
    assert pooled_at is not None
    assert expire(db, pooled_at[0] + timedelta(minutes=16))["alerted"] == 1
    assert expire(db, pooled_at[0] + timedelta(minutes=17))["alerted"] == 0
    assert topics(db, lead)[-1] == "sla.breached"


def test_decline_passes_it_on_at_once(db: psycopg.Connection) -> None:
    first, second = (on_shift_always(db, new_agent(db, performance=p)) for p in (90, 10))
    lead = capture(db, "website", now=datetime.now(UTC), accept=False)["body"]["lead_id"]
    before = offer(db, lead)
    assert before is not None and before["agent_id"] == first
    db.execute("SELECT api.decline_lead(%s, 'in a viewing', 'test')", (lead,))
    after = offer(db, lead)
    assert after is not None and (after["agent_id"], after["offer_round"]) == (second, 2)
    assert "lead.offer_declined" in topics(db, lead)
    assert violations(db) == []


def _pooled_lead(db: psycopg.Connection) -> str:
    lead = capture(db, "website", now=TUESDAY_10, accept=False)["body"]["lead_id"]
    for _ in range(3):
        current = offer(db, lead)
        if current is None:
            break
        expire(db, current["respond_by"] + timedelta(seconds=1))
    return str(lead)


async def test_twenty_agents_claim_one_pooled_lead_and_one_wins(db: psycopg.Connection, db_url: str) -> None:
    agents = [on_shift_always(db, new_agent(db)) for _ in range(20)]
    lead = _pooled_lead(db)
    barrier = asyncio.Barrier(20)

    async def claim(agent: str) -> str:
        conn = await asyncpg.connect(db_url)
        try:
            async with conn.transaction():
                await conn.execute("SELECT crm.act_as('agent', $1::uuid)", agent)
                await barrier.wait()
                try:
                    await conn.fetchval("SELECT api.claim_lead($1::uuid, 'test')", lead)
                    return "won"
                except asyncpg.PostgresError as exc:
                    return exc.as_dict().get("constraint_name", exc.sqlstate) or "?"
        finally:
            await conn.close()

    outcomes = await asyncio.gather(*(claim(a) for a in agents))
    assert sorted(outcomes) == ["lead_already_claimed"] * 19 + ["won"]
    holder = offer(db, lead)
    assert holder is not None and holder["accepted_at"] is not None and holder["offer_round"] is None
    assert "lead.claimed" in topics(db, lead)
    assert violations(db) == []


def test_the_daily_claim_cap(db: psycopg.Connection) -> None:
    agent = on_shift_always(db, new_agent(db))
    db.execute("UPDATE crm.settings SET value = '1' WHERE setting_key = 'daily_claim_cap'")
    first, second = _pooled_lead(db), _pooled_lead(db)
    with db.transaction():
        db.execute("SELECT crm.act_as('agent', %s)", (agent,))
        db.execute("SELECT api.claim_lead(%s, 'test')", (first,))
    with db_error("PT409", "claim_cap_reached"), db.transaction():
        db.execute("SELECT crm.act_as('agent', %s)", (agent,))
        db.execute("SELECT api.claim_lead(%s, 'test')", (second,))
    with db_error("PT409", "lead_already_claimed"), db.transaction():
        db.execute("SELECT crm.act_as('agent', %s)", (agent,))
        db.execute("SELECT api.claim_lead(%s, 'test')", (first,))


def test_accept_racing_the_expiry_has_one_outcome(db: psycopg.Connection, db_url: str) -> None:
    on_shift_always(db, new_agent(db, performance=90))
    on_shift_always(db, new_agent(db, performance=10))
    lead = capture(db, "website", accept=False)["body"]["lead_id"]
    deadline = offer(db, lead)
    assert deadline is not None
    past = deadline["respond_by"] + timedelta(seconds=1)
    with psycopg.connect(db_url) as accepting, psycopg.connect(db_url) as timer:
        accepting.execute("SELECT api.accept_lead(%s, 'test')", (lead,))   # holds the lead's lock
        assert timer.execute("SELECT jobs.expire_offers(100, %s)", (past,)).fetchone() == (
            {"expired": 0, "pooled": 0, "alerted": 0, "retry": 0},)   # skipped, not waited for
        accepting.commit()
        timer.commit()
        assert timer.execute("SELECT jobs.expire_offers(100, %s)", (past,)).fetchone() == (
            {"expired": 0, "pooled": 0, "alerted": 0, "retry": 0},)   # accepted: nothing to expire
    answered = offer(db, lead)
    assert answered is not None and answered["accepted_at"] is not None and answered["offer_round"] == 1


def test_a_lead_closed_before_its_offer_was_accepted_does_not_stop_the_timer(db: psycopg.Connection) -> None:
    on_shift_always(db, new_agent(db, performance=90))
    on_shift_always(db, new_agent(db, performance=10))
    closed = capture(db, "website", now=TUESDAY_10, accept=False)["body"]["lead_id"]
    other = capture(db, "website", now=TUESDAY_10 + timedelta(seconds=1), accept=False)["body"]["lead_id"]
    db.execute("UPDATE crm.leads SET status = 'lost', lost_reason = 'spam' WHERE lead_id = %s", (closed,))
    done = expire(db, TUESDAY_10 + timedelta(minutes=6))
    assert done["expired"] == 1   # the other lead's offer moved; the closed one keeps its agent
    moved = offer(db, other)
    assert moved is not None and moved["offer_round"] == 2
    flagged = [v for v in violations(db) if v[0] == "offer_overdue" and v[2]["lead_id"] == closed]
    assert flagged == []   # a closed lead's unanswered offer is not overdue: nothing is left to answer


def test_a_supervisor_reassigning_a_pooled_lead_takes_it_out_of_the_pond(db: psycopg.Connection) -> None:
    target = on_shift_always(db, new_agent(db))
    for _ in range(3):
        new_agent(db)
    lead = _pooled_lead(db)
    db.execute("SELECT api.reassign_lead(%s, 'a supervisor''s pick', %s, 'test')", (lead, target))
    assert db.execute("SELECT pooled_at FROM crm.leads WHERE lead_id = %s", (lead,)).fetchone() == (None,)
    assert [v for v in violations(db) if v[0] == "lead_pooled_and_assigned"] == []


def test_workload_balancing_never_hands_a_lead_to_an_unavailable_agent(db: psycopg.Connection) -> None:
    busy = on_shift_always(db, new_agent(db, performance=10))
    paused = on_shift_always(db, new_agent(db, performance=99))
    free = on_shift_always(db, new_agent(db, performance=50))
    db.execute("UPDATE crm.settings SET value = '2' WHERE setting_key = 'workload_balance_threshold'")
    db.execute("UPDATE crm.agents SET is_active = false WHERE agent_id IN (%s, %s)", (paused, free))
    for _ in range(4):
        capture(db, "website")
    db.execute("UPDATE crm.agents SET is_active = true WHERE agent_id IN (%s, %s)", (paused, free))
    db.execute("UPDATE crm.agents SET paused_until = now() + interval '1 hour' WHERE agent_id = %s", (paused,))
    moved = db.execute("SELECT crm.sweep_workload_balance(now())").fetchone()
    assert moved == (2,)
    holders = {r[0] for r in db.execute("SELECT a.agent_id::text FROM crm.lead_assignments a "
                                        "WHERE a.released_at IS NULL AND a.kind = 'workload_balance'")}
    assert holders == {free} and busy


def test_an_sms_is_an_outbound_contact_and_accepts(db: psycopg.Connection) -> None:
    agent = on_shift_always(db, new_agent(db))
    lead = capture(db, "website", accept=False)["body"]["lead_id"]
    db.execute("INSERT INTO crm.lead_activities (lead_id, agent_id, activity_type, outcome) "
               "VALUES (%s, %s, 'sms', 'neutral')", (lead, agent))
    accepted = offer(db, lead)
    assert accepted is not None and accepted["accepted_at"] is not None
    with db_error("23514", "lead_activities_agent_interaction"):   # an sms is an agent's, like a call
        db.execute("INSERT INTO crm.lead_activities (lead_id, activity_type) VALUES (%s, 'sms')", (lead,))


def test_an_offers_response_is_timed_from_its_clock_start(db: psycopg.Connection) -> None:
    agent = new_agent(db)
    night = datetime(2026, 11, 24, 19, 0, tzinfo=UTC)          # a Tuesday 23:00: the clock starts Wednesday 09:00
    lead = capture(db, "website", now=night, accept=False)["body"]["lead_id"]
    clock = db.execute("SELECT clock_started_at, respond_by - clock_started_at FROM crm.lead_assignments "
                       "WHERE lead_id = %s", (lead,)).fetchone()
    assert clock == (datetime(2026, 11, 25, 5, 0, tzinfo=UTC), timedelta(minutes=5))
    db.execute("INSERT INTO crm.lead_activities (lead_id, agent_id, activity_type, outcome, occurred_at) "
               "VALUES (%s, %s, 'whatsapp', 'neutral', %s)", (lead, agent, datetime(2026, 11, 25, 5, 2, tzinfo=UTC)))
    assert db.execute("SELECT offer_response_seconds FROM crm.lead_assignments WHERE lead_id = %s",
                      (lead,)).fetchone() == (120,)
    db.execute("SET CONSTRAINTS ALL IMMEDIATE")   # the event triggers, deferred to commit, fire now
    assert db.execute("SELECT data -> 'seconds_to_accept' FROM crm.outbox_events WHERE lead_id = %s "
                      "AND topic = 'lead.accepted'", (lead,)).fetchone() == (120,)   # the event says the same
    with db_error("23514", "lead_assignments_offer_clock"):       # a deadline without its clock start
        db.execute("UPDATE crm.lead_assignments SET clock_started_at = NULL WHERE lead_id = %s", (lead,))


def test_accept_rate_and_offer_response_feed_the_score_and_the_ranking(db: psycopg.Connection) -> None:
    quick, slow = (on_shift_always(db, new_agent(db)) for _ in range(2))
    hour_ago = datetime.now(UTC) - timedelta(hours=1)
    offered = ("INSERT INTO crm.lead_assignments (lead_id, agent_id, kind, assigned_at, clock_started_at, respond_by, "
               "offer_round, accepted_at, released_at, release_reason) "
               "VALUES (%s, %s, 'auto', %s, %s, %s, 1, %s, %s, %s)")
    for _ in range(4):   # quick accepts each offer in 30 s; slow lets each expire, and holds as many leads by hand
        db.execute(offered, (new_lead(db), quick, hour_ago, hour_ago, hour_ago + timedelta(minutes=5),
                             hour_ago + timedelta(seconds=30), None, None))
        db.execute(offered, (new_lead(db), slow, hour_ago, hour_ago, hour_ago + timedelta(minutes=5),
                             None, hour_ago + timedelta(minutes=5), "offer_expired"))
        db.execute("INSERT INTO crm.lead_assignments (lead_id, agent_id, kind, assigned_at) "
                   "VALUES (%s, %s, 'manual', %s)", (new_lead(db), slow, hour_ago - timedelta(hours=1)))
    # the same workload, and slow waited longer since a lead: before the scores, slow would rank first
    assert len({r[0] for r in db.execute("SELECT base_points FROM crm.agents")}) == 1
    figures = {r[0]: r[1:] for r in db.execute(
        "SELECT agent_id::text, answered, accepted, accept_rate::float8, response_p90_seconds "
        "FROM crm.offer_figures(now() - interval '1 day', now())")}
    assert figures == {quick: (4, 4, 100.0, 30), slow: (4, 0, 0.0, None)}
    db.execute("SELECT crm.refresh_performance_scores(now())")
    scores = dict(db.execute("SELECT agent_id::text, performance_score::float8 FROM crm.agents"))
    # 0.45 x 50 (nothing closed) + 0.25 x 50 (no first contact) + 0.15 x accept rate + 0.15 x (100 - p90 / 3 s)
    assert scores == {quick: 63.5, slow: 42.5}
    lead = capture(db, "website", accept=False)["body"]["lead_id"]   # now the quick one ranks first
    routed = offer(db, lead)
    assert routed is not None and routed["agent_id"] == quick


def test_the_performance_weights_add_up_to_one(db: psycopg.Connection) -> None:
    with db_error("PT422", "setting_shape"):
        db.execute("UPDATE crm.settings SET value = jsonb_set(value, '{accept_weight}', '0.5') "
                   "WHERE setting_key = 'performance_score'")
    db.execute("""UPDATE crm.settings SET value = value || '{"conversion_weight": 0.3, "accept_weight": 0.3}'
                   WHERE setting_key = 'performance_score'""")   # 0.3 + 0.25 + 0.3 + 0.15


def _notified(listener: psycopg.Connection) -> list[str]:
    """The offer_deadline notifications delivered to `listener` so far (waits up to half a second for the first)."""
    return [n.channel for n in listener.notifies(timeout=0.5, stop_after=10)]


def test_the_timers_are_woken_only_by_a_deadline_earlier_than_every_waiting_one(db: psycopg.Connection,
                                                                               db_url: str) -> None:
    """A timer sleeps until the earliest waiting deadline: a new offer whose deadline comes later sends no NOTIFY
    (with a steady SLA, every capture's), one that comes earlier (the SLA shortened) does, and so does the first."""
    on_shift_always(db, new_agent(db))
    db.execute("UPDATE crm.settings SET value = '\"1 hour\"' WHERE setting_key = 'first_response_sla'")
    with psycopg.connect(db_url, autocommit=True) as listener:
        listener.execute("LISTEN offer_deadline")
        capture(db, "website", accept=False)
        assert _notified(listener) == ["offer_deadline"]          # nothing was waiting
        capture(db, "website", accept=False)
        assert _notified(listener) == []                          # an hour from now, after the first one's
        db.execute("UPDATE crm.settings SET value = '\"1 minute\"' WHERE setting_key = 'first_response_sla'")
        early = capture(db, "website", accept=False)["body"]
        assert _notified(listener) == ["offer_deadline"]          # before every waiting one
        due = db.execute("SELECT jobs.next_offer_deadline()").fetchone()
        # as timestamps: the JSON drops a microsecond's trailing zeros
        assert due is not None and due[0] == datetime.fromisoformat(early["offer"]["respond_by"])
