"""Workload under parallel transactions on separate connections."""

from __future__ import annotations

import asyncio

import asyncpg
import psycopg

from tests.db.factories import active_leads, assign, new_agent, new_lead, real_active_leads, violations


async def _try_assign(url: str, agent: str, phone: str, barrier: asyncio.Barrier) -> bool:
    """One connection: insert a lead, wait until every other transaction is open too, then assign."""
    conn = await asyncpg.connect(url)
    try:
        tx = conn.transaction()
        await tx.start()
        lead = await conn.fetchval(  # scored as capture scores it (the invariant capture_score_mismatch holds)
            "INSERT INTO crm.leads (source_type, first_name, last_name, phone, score, score_breakdown) "
            "SELECT 'website', 'Race', 'Test', $1, (s ->> 'score')::smallint, s -> 'breakdown' "
            "FROM crm.capture_score(jsonb_populate_record(NULL::crm.leads, '{\"source_type\": \"website\"}')) AS s "
            "RETURNING lead_id", phone,
        )
        await barrier.wait()  # all transactions are open at the same time from here
        try:
            await conn.execute(
                "INSERT INTO crm.lead_assignments (lead_id, agent_id, kind) VALUES ($1, $2::uuid, 'auto')", lead, agent
            )
        except asyncpg.CheckViolationError as exc:
            assert exc.constraint_name == "agents_capacity"
            await tx.rollback()
            return False
        await tx.commit()
        return True
    finally:
        await conn.close()


async def test_parallel_assignments_never_push_an_agent_past_capacity(db: psycopg.Connection, db_url: str) -> None:
    agent = new_agent(db, max_active_leads=50)
    for _ in range(45):
        assign(db, new_lead(db), agent)
    workers = 24
    barrier = asyncio.Barrier(workers)
    results = await asyncio.gather(
        *(_try_assign(db_url, agent, f"+97158{i:07d}", barrier) for i in range(workers))
    )
    assert sum(results) == 5  # exactly the free capacity, no more
    assert active_leads(db, agent) == 50 == real_active_leads(db, agent)
    assert violations(db) == []


async def test_parallel_status_changes_and_releases_keep_the_counter_exact(db: psycopg.Connection, db_url: str) -> None:
    agent = new_agent(db)
    leads = [new_lead(db) for _ in range(30)]
    for lead in leads:
        assign(db, lead, agent)

    async def close(lead: str, i: int) -> None:
        conn = await asyncpg.connect(db_url)
        try:
            if i % 2:
                await conn.execute(
                    "UPDATE crm.leads SET status = 'lost', lost_reason = 'race' WHERE lead_id = $1::uuid", lead)
            else:
                await conn.execute(
                    "UPDATE crm.lead_assignments SET released_at = now(), release_reason = 'race' "
                    "WHERE lead_id = $1::uuid AND released_at IS NULL", lead)
                await conn.execute("UPDATE crm.leads SET queued_at = now() WHERE lead_id = $1::uuid", lead)
        finally:
            await conn.close()

    await asyncio.gather(*(close(lead, i) for i, lead in enumerate(leads[:20])))
    # 10 leads closed for good; the 10 released ones were queued and the queue drains back to the only agent
    # (at the commit of whichever transaction freed a slot while they waited, or by an explicit drain)
    db.execute("SELECT crm.drain_assignment_queue()")
    assert active_leads(db, agent) == 20 == real_active_leads(db, agent)
    assert violations(db) == []
