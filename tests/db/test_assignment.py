"""Assignment (crm.choose_agent / crm.assign_lead through api.capture_lead): ranking, round-robin,
the queue and its drain, and SKIP LOCKED between open transactions on separate connections."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from typing import Any

import asyncpg
import psycopg
import pytest

from tests.db.factories import active_leads, capture, db_error, new_agent, real_active_leads, violations, walk_to


def agent_of(result: dict[str, Any]) -> str | None:
    agent = result["body"]["assigned_agent"]
    return agent["agent_id"] if agent else None


def test_property_type_and_area_specialists_beat_round_robin(db: psycopg.Connection) -> None:
    generalist = new_agent(db)
    villa_man = new_agent(db, property_types=("villa",), areas=("palm_jumeirah",))
    new_agent(db, property_types=("apartment",))
    for _ in range(5):  # the specialist wins every time, though the others are less loaded
        assert agent_of(capture(db, property_type="villa", preferred_areas=["Palm"])) == villa_man
    assert active_leads(db, villa_man) == 5
    # a lead nobody specialises in goes to the generalist over the apartment specialist
    assert agent_of(capture(db, property_type="commercial")) == generalist


def test_language_match_beats_a_lighter_workload(db: psycopg.Connection) -> None:
    arabic = new_agent(db, languages=("arabic", "english"))
    english = new_agent(db, languages=("english",))
    for _ in range(10):
        assert agent_of(capture(db, language_preference="Arabic")) == arabic
    assert agent_of(capture(db, language_preference="ar")) == arabic  # ISO code works too
    assert agent_of(capture(db, language_preference="english")) == english  # now the lighter of two speakers


def test_the_decision_explains_the_winner(db: psycopg.Connection) -> None:
    specialist = new_agent(db, languages=("russian",), property_types=("villa",))
    new_agent(db)
    body = capture(db, property_type="villa", language_preference="russian")["body"]
    decision = db.execute("SELECT assignment_decision FROM crm.leads WHERE lead_id = %s",
                          (body["lead_id"],)).fetchone()[0]  # type: ignore[index]
    assert decision["method"] == "ranked" and decision["winner_rank"] == 1 and decision["eligible_count"] == 2
    best = decision["candidates"][0]
    assert best["agent_id"] == specialist and best["property_type_points"] == 30 and best["language_points"] == 25
    assert decision["candidates"][1]["fit"] < best["fit"]


def test_equal_agents_share_evenly(db: psycopg.Connection) -> None:
    agents = [new_agent(db) for _ in range(4)]
    counts = Counter(agent_of(capture(db)) for _ in range(23))
    assert set(counts) == set(agents)
    assert max(counts.values()) - min(counts.values()) <= 1


def test_performance_weights_the_round_robin(db: psycopg.Connection) -> None:
    strong = new_agent(db, performance=90)
    weak = new_agent(db, performance=30)
    counts = Counter(agent_of(capture(db)) for _ in range(20))
    assert counts[strong] > counts[weak] > 0


def test_supervisors_inactive_and_full_agents_get_nothing(db: psycopg.Connection) -> None:
    new_agent(db, role="supervisor")
    new_agent(db, is_active=False)
    full = new_agent(db, max_active_leads=1)
    first = capture(db)
    assert (first["status"], agent_of(first)) == (201, full)
    second = capture(db)
    assert second["status"] == 202 and second["body"]["queued"] and second["body"]["assigned_agent"] is None
    assert second["body"]["next_follow_up"] is None
    assert db.execute("SELECT queued_at IS NOT NULL FROM crm.leads WHERE lead_id = %s",
                      (second["body"]["lead_id"],)).fetchone() == (True,)
    assert violations(db) == []


def test_queue_drains_by_score_then_age_when_capacity_frees(db: psycopg.Connection) -> None:
    agent = new_agent(db, max_active_leads=1)
    holder = capture(db)["body"]["lead_id"]
    cold_old = capture(db, "walk_in")["body"]["lead_id"]
    hot = capture(db, "bayut", budget_max=20_000_000, nationality="UAE", property_type="villa")["body"]["lead_id"]
    cold_new = capture(db, "walk_in")["body"]["lead_id"]
    queued = [r[0] for r in db.execute(
        "SELECT lead_id::text FROM crm.leads WHERE queued_at IS NOT NULL ORDER BY score DESC, created_at")]
    assert queued == [hot, cold_old, cold_new]

    walk_to(db, holder, "lost")  # frees the slot: the deferred trigger drains one lead at commit
    owner = db.execute("SELECT agent_id::text, kind FROM crm.lead_assignments "
                       "WHERE lead_id = %s AND released_at IS NULL", (hot,)).fetchone()
    assert owner == (agent, "queue_drain")
    assert db.execute("SELECT count(*) FROM crm.follow_up_tasks WHERE lead_id = %s AND status = 'open'",
                      (hot,)).fetchone() == (1,)  # the drained lead gets its first follow-up
    db.execute("UPDATE crm.agents SET max_active_leads = 3 WHERE agent_id = %s", (agent,))
    assert db.execute("SELECT count(*) FROM crm.leads WHERE queued_at IS NOT NULL").fetchone() == (0,)
    assert active_leads(db, agent) == 3 == real_active_leads(db, agent)
    assert violations(db) == []


def test_a_new_agent_drains_the_queue(db: psycopg.Connection) -> None:
    assert capture(db)["status"] == 202  # nobody works here yet
    agent = new_agent(db)
    assert active_leads(db, agent) == 1
    assert violations(db) == []


def test_assign_lead_facade_function(db: psycopg.Connection) -> None:
    queued = capture(db)["body"]["lead_id"]
    agent = new_agent(db, is_active=False)
    decision = db.execute("SELECT api.assign_lead(%s, 'test')", (queued,)).fetchone()[0]  # type: ignore[index]
    assert decision["method"] == "queued" and decision["agent_id"] is None
    db.execute("UPDATE crm.agents SET is_active = true WHERE agent_id = %s", (agent,))  # drains at commit
    with db_error("PT409", "lead_already_assigned"):
        db.execute("SELECT api.assign_lead(%s, 'test')", (queued,))


async def _capture_sql(conn: asyncpg.Connection, phone: str) -> dict[str, Any]:
    body = {"source_type": "website", "lead_data": {"first_name": "Lock", "last_name": "Test", "phone": phone}}
    result: dict[str, Any] = json.loads(await conn.fetchval("SELECT api.capture_lead($1::jsonb, 'test')",
                                                            json.dumps(body)))
    return result


async def _capture_and_hold(url: str, phone: str, holding: asyncio.Event, release: asyncio.Event) -> str:
    """Capture in a transaction that stays open (holding the chosen agent's row lock) until `release`."""
    conn = await asyncpg.connect(url)
    try:
        async with conn.transaction():
            result = await _capture_sql(conn, phone)
            holding.set()
            await release.wait()
        return str(result["body"]["assigned_agent"]["agent_id"])
    finally:
        await conn.close()


async def test_an_open_assignment_transaction_does_not_block_the_next_capture(db: psycopg.Connection,
                                                                              db_url: str) -> None:
    """Connection A holds its chosen agent's row lock; connection B must get another agent, at once."""
    agents = {new_agent(db), new_agent(db)}
    holding, release = asyncio.Event(), asyncio.Event()
    a = asyncio.create_task(_capture_and_hold(db_url, "+971561111111", holding, release))
    await asyncio.wait_for(holding.wait(), 10)
    conn = await asyncpg.connect(db_url)
    try:
        result = await asyncio.wait_for(_capture_sql(conn, "+971562222222"), 5)  # times out if B waits for A
        b_agent = result["body"]["assigned_agent"]["agent_id"]
    finally:
        await conn.close()
    release.set()
    a_agent = await a
    assert {a_agent, b_agent} == agents
    assert violations(db) == []


def test_when_every_candidate_is_locked_the_whole_ranking_is_tried(db: psycopg.Connection, db_url: str) -> None:
    """A capture locks from its best 16 candidates (crm.choose_agent). With more agents eligible and those 16 held
    by open transactions (a burst of captures of one kind of lead), it ranks everyone and takes the 17th at once:
    no waiting, no queue."""
    agents = [new_agent(db, performance=90 - i) for i in range(18)]   # one profile: rank follows performance
    with psycopg.connect(db_url) as holder:
        holder.execute("SELECT 1 FROM crm.agents WHERE agent_id = ANY (%s::uuid[]) FOR UPDATE", (agents[:16],))
        result = capture(db)
        assert result["status"] == 201 and agent_of(result) == agents[16]
        decision = db.execute("SELECT assignment_decision FROM crm.leads WHERE lead_id = %s",
                              (result["body"]["lead_id"],)).fetchone()[0]  # type: ignore[index]
        assert decision["method"] == "ranked" and decision["winner_rank"] == 17 and decision["eligible_count"] == 18
        assert [c["agent_id"] for c in decision["candidates"]] == agents[:5]   # the top five, as ranked
        holder.rollback()
    assert agent_of(capture(db)) == agents[0]   # released: the best again


async def test_when_every_agent_is_locked_the_capture_waits_instead_of_queueing(db: psycopg.Connection,
                                                                                db_url: str) -> None:
    only = new_agent(db)
    holding, release = asyncio.Event(), asyncio.Event()
    a = asyncio.create_task(_capture_and_hold(db_url, "+971563333333", holding, release))
    await asyncio.wait_for(holding.wait(), 10)
    conn = await asyncpg.connect(db_url)
    try:
        b = asyncio.create_task(_capture_sql(conn, "+971564444444"))
        await asyncio.sleep(0.3)
        assert not b.done()  # waiting for A's lock on the only agent, not queued
        release.set()
        result = await asyncio.wait_for(b, 10)
    finally:
        await conn.close()
    assert await a == only
    assert result["status"] == 201 and result["body"]["assigned_agent"]["agent_id"] == only
    assert db.execute("SELECT assignment_decision->>'method' FROM crm.leads WHERE phone = '+971564444444'"
                      ).fetchone() == ("ranked_after_wait",)


async def test_parallel_captures_respect_capacity_and_counters(db: psycopg.Connection, db_url: str) -> None:
    agents = [new_agent(db, max_active_leads=m) for m in (3, 5, 8)]  # 16 slots for 40 leads
    pool = await asyncpg.create_pool(db_url, min_size=20, max_size=20)
    try:
        async def one(i: int) -> dict[str, Any]:
            async with pool.acquire() as conn:
                return await _capture_sql(conn, f"+97155{i:07d}")
        results = await asyncio.gather(*(one(i) for i in range(40)))
    finally:
        await pool.close()
    assert Counter(r["status"] for r in results) == {201: 16, 202: 24}
    for agent in agents:
        assert active_leads(db, agent) == real_active_leads(db, agent)
    assert [active_leads(db, a) for a in agents] == [3, 5, 8]
    assert violations(db) == []


def test_the_routing_profile_follows_the_specialisation_tables(db: psycopg.Connection) -> None:
    agent = new_agent(db, languages=("english", "arabic"), property_types=("villa",), areas=("jbr",))
    profile = "SELECT property_types::text, area_codes, languages FROM crm.agents WHERE agent_id = %s"
    assert db.execute(profile, (agent,)).fetchone() == ("{villa}", ["jbr"], ["arabic", "english"])
    db.execute("DELETE FROM crm.agent_languages WHERE agent_id = %s AND language = 'arabic'", (agent,))
    db.execute("UPDATE crm.agent_areas SET area_code = 'jvc' WHERE agent_id = %s", (agent,))
    assert db.execute(profile, (agent,)).fetchone() == ("{villa}", ["jvc"], ["english"])
    with db_error("PT409", "agents_profile_derived"):
        db.execute("UPDATE crm.agents SET languages = '{russian}' WHERE agent_id = %s", (agent,))
    with db_error("PT409", "agents_profile_derived"):
        db.execute("INSERT INTO crm.agents (full_name, email, phone, languages) "
                   "VALUES ('X', 'x.profile@thinkrealty.ae', '+971500000001', '{english}')")
    assert violations(db) == []
    # a copy changed behind the triggers' back (replica mode skips them) is reported
    db.execute("SET session_replication_role = replica")
    db.execute("UPDATE crm.agents SET languages = '{russian}' WHERE agent_id = %s", (agent,))
    db.execute("RESET session_replication_role")
    # (and its routing profile row no longer is the profile of its arrays)
    assert sorted((v[0], v[1]) for v in violations(db)) == [("agent_profile_mismatch", agent),
                                                           ("agent_routing_mismatch", agent)]


def _oracle(db: psycopg.Connection, property_type: str | None, areas: list[str], language: str | None,
            exclude: str | None = None) -> list[str]:
    """The ranking as the rule states it, computed here from every agent's row: the independent reference."""
    weights = db.execute("SELECT value FROM crm.settings WHERE setting_key = 'assignment_weights'").fetchone()[0]  # type: ignore[index]
    rows = db.execute(
        "SELECT agent_id::text, property_types::text[], area_codes, languages, performance_score::float8, "
        "active_leads, max_active_leads, last_assigned_at FROM crm.agents "
        "WHERE is_active AND role = 'agent' AND active_leads < max_active_leads").fetchall()
    ranked = []
    for agent, types, agent_areas, languages, performance, active, capacity, last in rows:
        if agent == exclude:
            continue
        pt = 0.0 if property_type is None else (
            weights["property_type"] if property_type in types else
            weights["property_type_generalist"] if not types else 0.0)
        ar = 0.0 if not areas else (weights["area"] if set(areas) & set(agent_areas) else
                                    weights["area_generalist"] if not agent_areas else 0.0)
        la = weights["language"] if language in languages else 0.0
        base = performance / 100 * weights["performance"] + (1 - active / capacity) * weights["workload"]
        ranked.append(((-(float(pt) + ar + la + base)), last is not None, last or 0, agent))
    return [r[3] for r in sorted(ranked, key=lambda r: (r[0], r[1], r[2], r[3]))]


def test_ranking_from_the_index_is_ranking_everyone(db: psycopg.Connection) -> None:
    """crm.rank_agents reads a few profiles' best agents from agents_routing_idx; whatever it reads, its answer is the
    ranking of every eligible agent by the rule, for any limit and with an excluded agent."""
    import random

    rng = random.Random(18)
    types, areas = ["apartment", "villa", "townhouse", "commercial"], ["jbr", "jvc", "dubai_marina", "downtown_dubai"]
    languages = ["english", "arabic", "russian", "hindi"]
    agents = [new_agent(db, performance=rng.choice([40, 55, 70, 85]), max_active_leads=rng.choice([3, 8, 50]),
                        property_types=tuple(rng.sample(types, rng.choice([0, 1, 1, 2]))),
                        areas=tuple(rng.sample(areas, rng.choice([0, 1, 2]))),
                        languages=tuple(rng.sample(languages, rng.choice([1, 2]))))
              for _ in range(60)]
    for _ in range(150):  # workloads (some agents fill up), each capture ranked the same way
        capture(db, property_type=rng.choice(types), preferred_areas=rng.sample(["JBR", "JVC", "Marina"], 1),
                language_preference=rng.choice(languages))
    db.execute("UPDATE crm.agents SET is_active = false WHERE agent_id = ANY(%s::uuid[])", (agents[:4],))
    db.execute("UPDATE crm.agents SET role = 'supervisor' WHERE agent_id = %s", (agents[4],))
    ranking = "SELECT agent_id::text FROM crm.rank_agents(%s, %s, %s, %s, %s) ORDER BY rank"
    for property_type in [*types, None]:
        for lead_areas in (["jbr"], ["jvc", "downtown_dubai"], []):
            for language in ("english", "arabic", None):
                exclude = rng.choice(agents)
                everyone = _oracle(db, property_type, lead_areas, language)
                without = _oracle(db, property_type, lead_areas, language, exclude)
                for limit in (1, 5, 16, 32, None):
                    got = [r[0] for r in db.execute(ranking, (property_type, lead_areas, language, limit, None))]
                    assert got == everyone[:limit], (property_type, lead_areas, language, limit)
                    got = [r[0] for r in db.execute(ranking, (property_type, lead_areas, language, limit, exclude))]
                    assert got == without[:limit], (property_type, lead_areas, language, limit, "exclude")
                eligible = db.execute("SELECT crm.eligible_agents(%s)", (exclude,)).fetchone()[0]  # type: ignore[index]
                assert eligible == len(without)
    assert violations(db) == []


def test_base_points_follow_the_weights_in_the_same_transaction(db: psycopg.Connection) -> None:
    fast = new_agent(db, performance=90)
    slow = new_agent(db, performance=10)
    base = "SELECT base_points FROM crm.agents WHERE agent_id = %s"
    assert db.execute(base, (fast,)).fetchone()[0] == 0.9 * 15 + 50  # type: ignore[index]
    for _ in range(3):
        capture(db)
    # performance outweighs workload: the fast agent takes every lead; with workload alone the lighter one would
    db.execute("""UPDATE crm.settings SET value = value || '{"performance": 100, "workload": 1}'
                   WHERE setting_key = 'assignment_weights'""")
    assert db.execute(base, (slow,)).fetchone()[0] == pytest.approx(10 + (1 - 0 / 50))  # type: ignore[index]
    assert agent_of(capture(db)) == fast
    db.execute("""UPDATE crm.settings SET value = value || '{"performance": 0, "workload": 50}'
                   WHERE setting_key = 'assignment_weights'""")
    lighter = min((fast, slow), key=lambda a: active_leads(db, a))
    assert agent_of(capture(db)) == lighter
    assert violations(db) == []


def test_routing_columns_are_derived_and_counted(db: psycopg.Connection) -> None:
    agent = new_agent(db, languages=("arabic",), max_active_leads=1)
    count = ("SELECT p.eligible_agents FROM crm.routing_profiles AS p JOIN crm.agents AS g "
             "ON g.routing_profile_id = p.profile_id WHERE g.agent_id = %s")
    assert db.execute(count, (agent,)).fetchone()[0] == 1  # type: ignore[index]
    # a hand-written value of a derived column is replaced by the derived one
    db.execute("UPDATE crm.agents SET base_points = 999, routing_profile_id = NULL WHERE agent_id = %s", (agent,))
    assert violations(db) == []
    capture(db, language_preference="arabic")  # full now: no longer eligible
    assert db.execute(count, (agent,)).fetchone()[0] == 0  # type: ignore[index]
    assert db.execute("SELECT crm.eligible_agents()").fetchone()[0] == 0  # type: ignore[index]
    db.execute("UPDATE crm.agents SET max_active_leads = 2 WHERE agent_id = %s", (agent,))
    assert db.execute(count, (agent,)).fetchone()[0] == 1  # type: ignore[index]
    db.execute("INSERT INTO crm.agent_languages (agent_id, language) VALUES (%s, 'english')", (agent,))
    assert db.execute(count, (agent,)).fetchone()[0] == 1  # type: ignore[index]  # the new profile's
    db.execute("UPDATE crm.agents SET is_active = false WHERE agent_id = %s", (agent,))
    assert db.execute("SELECT sum(eligible_agents) FROM crm.routing_profiles").fetchone()[0] == 0  # type: ignore[index]
    assert violations(db) == []
    # a count changed behind the triggers' back (replica mode) is reported
    db.execute("SET session_replication_role = replica")
    db.execute("UPDATE crm.routing_profiles SET eligible_agents = eligible_agents + 1 "
               "WHERE profile_id = (SELECT routing_profile_id FROM crm.agents WHERE agent_id = %s)", (agent,))
    db.execute("RESET session_replication_role")
    assert [v[0] for v in violations(db)] == ["routing_profile_count_mismatch"]
    assert db.execute("SELECT crm.rebuild_routing()").fetchone()[0] == 0  # type: ignore[index]  # agents were right
    assert violations(db) == []
