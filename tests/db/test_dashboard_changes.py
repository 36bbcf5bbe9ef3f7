"""The dashboard cache's change log (migration 0031, 20_crm_notify.sql, api.dashboard_changes) as psql and the API's
login meet it: every change to an agent's dashboard records the agent in its own transaction, once; a reader sees
every committed change exactly from its previous horizon on, including a transaction that began before that look
and committed after it (real parallel connections); the sweep prunes and a reader that fell behind is told."""

from __future__ import annotations

import time

import psycopg
import pytest

from tests.conftest import with_user
from tests.db.factories import capture, new_agent


def look(app: psycopg.Connection, after: str | None) -> tuple[set[str], str, bool]:
    row = app.execute("SELECT c.agent_ids::text[], c.horizon::text, c.complete "
                      "FROM api.dashboard_changes(%s::text::pg_snapshot) AS c", (after,)).fetchone()
    assert row is not None
    return set(row[0]), row[1], row[2]


def rows(db: psycopg.Connection) -> list[tuple[str, str]]:
    return [(r[0], r[1]) for r in db.execute(
        "SELECT xid::text, agent_id::text FROM crm.dashboard_changes ORDER BY xid, agent_id")]


def test_a_change_records_its_agent_once_per_transaction_and_a_rollback_nothing(db: psycopg.Connection) -> None:
    agent = new_agent(db)
    db.execute("DELETE FROM crm.dashboard_changes")
    lead = capture(db, "website", accept=False)["body"]["lead_id"]
    # the assignment and the first follow-up, one transaction, both notify the same agent: one row
    assert [a for _, a in rows(db)] == [agent]
    db.execute("DELETE FROM crm.dashboard_changes")
    with db.transaction():   # a psql UPDATE of the lead: its current agent
        db.execute("UPDATE crm.leads SET first_name = 'Mona' WHERE lead_id = %s", (lead,))
    assert [a for _, a in rows(db)] == [agent]
    db.execute("DELETE FROM crm.dashboard_changes")
    with pytest.raises(RuntimeError), db.transaction():
        db.execute("UPDATE crm.leads SET first_name = 'Noura' WHERE lead_id = %s", (lead,))
        raise RuntimeError("rolled back")
    assert rows(db) == []
    with db.transaction():   # by hand: true for the agent's first change of the transaction only
        assert db.execute("SELECT crm.notify_dashboard(%s), crm.notify_dashboard(%s), crm.notify_dashboard(NULL)",
                          (agent, agent)).fetchone() == (True, False, False)


def test_a_reader_sees_each_commit_once_even_one_that_began_before_its_look(db: psycopg.Connection,
                                                                                   db_url: str) -> None:
    first, second = new_agent(db), new_agent(db)
    lead_one = capture(db, "website")["body"]["lead_id"]
    lead_two = capture(db, "bayut")["body"]["lead_id"]
    owners = dict(db.execute("SELECT lead_id::text, agent_id::text FROM crm.lead_assignments "
                             "WHERE released_at IS NULL AND lead_id IN (%s, %s)", (lead_one, lead_two)).fetchall())
    assert set(owners.values()) == {first, second}
    with psycopg.connect(db_url) as old:   # another transaction open throughout, as a long report would be
        old.execute("SELECT txid_current()")
        _reader_sees_each_commit_once(db, db_url, owners, lead_one, lead_two)


def _reader_sees_each_commit_once(db: psycopg.Connection, db_url: str, owners: dict[str, str], lead_one: str,
                                  lead_two: str) -> None:
    with psycopg.connect(with_user(db_url, "thinkrealty_app"), autocommit=True) as app, \
            psycopg.connect(db_url) as slow:
        agents, horizon, complete = look(app, None)
        assert agents == set() and not complete          # the first look: only a horizon (the reader drops all)
        # a transaction that has written before the next look and commits after it
        slow.execute("UPDATE crm.leads SET first_name = 'Late' WHERE lead_id = %s", (lead_one,))
        db.execute("UPDATE crm.leads SET first_name = 'Early' WHERE lead_id = %s", (lead_two,))
        agents, horizon, complete = look(app, horizon)
        assert agents == {owners[lead_two]} and complete  # the open transaction is not visible yet
        slow.commit()
        agents, horizon, complete = look(app, horizon)
        assert agents == {owners[lead_one]} and complete  # seen now, and the other one not again
        agents, horizon, complete = look(app, horizon)
        assert agents == set() and complete               # nothing new: nothing again
        # the app's login reads the log only through the feed
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            app.execute("SELECT count(*) FROM crm.dashboard_changes")


def test_the_sweep_prunes_and_a_reader_behind_it_is_told(db: psycopg.Connection, db_url: str) -> None:
    new_agent(db)
    with psycopg.connect(with_user(db_url, "thinkrealty_app"), autocommit=True) as app:
        _, old, _ = look(app, None)
        capture(db, "website")
        assert rows(db)
        _, fresh, complete = look(app, old)
        assert complete
        swept = db.execute("SELECT jobs.run_sweeps() -> 'dashboard_changes_pruned'").fetchone()
        assert swept is not None and swept[0] == 0 and rows(db)     # the sweep prunes only what is ten minutes old
        # a look that no longer counts any writer of the log as running has seen every row there is; transaction ids
        # are the server's, so another database's long transaction (a parallel worker's migration round trip) can keep
        # an older id running for many seconds: wait for it, within a bound, and say so if it never ends
        deadline = time.monotonic() + 120
        while True:
            behind = db.execute("SELECT EXISTS (SELECT 1 FROM pg_snapshot_xip(%s::pg_snapshot) AS x "
                                "WHERE x <= (SELECT max(c.xid) FROM crm.dashboard_changes AS c))", (fresh,)).fetchone()
            assert behind is not None
            if not behind[0]:
                break
            assert time.monotonic() < deadline, f"a transaction older than the log's rows stayed open: {fresh}"
            time.sleep(0.05)
            _, fresh, _ = look(app, fresh)
        pruned = db.execute("SELECT crm.prune_dashboard_changes(now() + interval '11 minutes')").fetchone()
        assert pruned is not None and pruned[0] >= 1 and rows(db) == []
        assert look(app, old)[2] is False       # behind the prune: drop everything
        assert look(app, fresh)[2] is True      # looked after the pruned rows committed: nothing missed
