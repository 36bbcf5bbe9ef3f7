"""Agent availability over HTTP: the weekly schedule, absences and the pause, each bad range a 422 naming its field,
who may do what (an agent its own pause; supervisors everything), and the agent resource showing it."""

from __future__ import annotations

import datetime as dt

import httpx
import psycopg

from tests.api.conftest import OMAR_KEY, PRIYA_KEY, SUPERVISOR_KEY, api_client, assert_problem
from tests.conftest import Servers

OMAR = "md5('agent-omar.haddad')::uuid"
AGENT_KEYS = {"omar": {"X-API-Key": OMAR_KEY}, "priya": {"X-API-Key": PRIYA_KEY}}


def omar(db_url: str) -> str:
    with psycopg.connect(db_url, autocommit=True) as conn:
        row = conn.execute(f"SELECT {OMAR}::text").fetchone()
    assert row is not None
    return str(row[0])


def field_of(response: httpx.Response) -> str:
    return ".".join(str(p) for p in response.json()["errors"][0]["loc"])


async def test_schedule_absences_and_pause(seeded_db_url: str, servers: Servers) -> None:
    agent = omar(seeded_db_url)
    base = f"/api/v1/agents/{agent}"
    async with api_client(seeded_db_url, servers.redis_url, api_key=SUPERVISOR_KEY) as http:
        split = [{"day": d, "start": "09:00", "end": "13:00"} for d in (1, 2)] + [
            {"day": 2, "start": "16:00", "end": "24:00"}]
        got = await http.put(f"{base}/schedule", json={"hours": split})
        assert got.status_code == 200, got.text
        schedule = got.json()
        assert schedule["uses_office_hours"] is False and schedule["hours"][-1] == {"day": 2, "start": "16:00",
                                                                                    "end": "24:00"}
        assert (await http.get(f"{base}/schedule")).json()["hours"] == schedule["hours"]
        for bad in ([{"day": 8, "start": "09:00", "end": "10:00"}], [{"day": 1, "start": "10:00", "end": "09:00"}],
                    [{"day": 1, "start": "09:00", "end": "24:30"}], [{"day": 1, "start": "9", "end": "10:00"}],
                    [{"day": 1, "start": "09:00", "end": "12:00"}, {"day": 1, "start": "11:00", "end": "13:00"}]):
            assert_problem(await http.put(f"{base}/schedule", json={"hours": bad}), 422, "validation_error")
        back = (await http.put(f"{base}/schedule", json={"hours": []})).json()
        assert back["uses_office_hours"] is True and back["hours"] == []

        start = dt.datetime(2027, 1, 10, tzinfo=dt.UTC)
        leave = {"starts_at": start.isoformat(), "ends_at": (start + dt.timedelta(days=7)).isoformat(),
                 "reason": "leave", "note": "Annual leave"}
        made = await http.post(f"{base}/absences", json=leave)
        assert made.status_code == 201, made.text
        absence = made.json()
        assert made.headers["Location"] == f"{base}/absences/{absence['absence_id']}"
        overlap = leave | {"starts_at": (start + dt.timedelta(days=3)).isoformat(),
                           "ends_at": (start + dt.timedelta(days=9)).isoformat()}
        body = assert_problem(await http.post(f"{base}/absences", json=overlap), 422, "absence_overlap")
        assert body["field"] == "starts_at" and body["absence_id"] == absence["absence_id"]
        backwards = await http.post(f"{base}/absences", json=leave | {"ends_at": start.isoformat()})
        assert_problem(backwards, 422, "validation_error")
        assert_problem(await http.post(f"{base}/absences", json=leave | {"reason": "holiday"}), 422,
                       "validation_error")
        naive = await http.post(f"{base}/absences", json=leave | {"starts_at": "2027-01-10T00:00:00"})
        assert_problem(naive, 422, "validation_error")
        assert field_of(naive).endswith("starts_at")
        for odd in ("0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-05:00"):
            assert_problem(await http.post(f"{base}/absences", json=leave | {"starts_at": odd}), 422,
                           "validation_error")
        listed = (await http.get(f"{base}/absences")).json()["items"]
        assert [a["absence_id"] for a in listed] == [absence["absence_id"]]
        assert (await http.delete(f"{base}/absences/{absence['absence_id']}")).json()["deleted"] is True
        assert_problem(await http.delete(f"{base}/absences/{absence['absence_id']}"), 404, "absence_not_found")
        missing = "/api/v1/agents/00000000-0000-4000-8000-000000000000"
        assert_problem(await http.post(f"{missing}/absences", json=leave), 404, "agent_not_found")

        # the pause: the agent's own, not another's; bounded by max_pause
        paused = await http.post(f"{base}/pause", json={"minutes": 45, "reason": "viewing"},
                                 headers=AGENT_KEYS["omar"])
        assert paused.status_code == 200, paused.text
        assert paused.json()["available_now"] is False and paused.json()["reason"] in ("paused", "inactive")
        assert paused.json()["paused_until"] and paused.json()["pause_reason"] == "viewing"
        resource = (await http.get(base)).json()
        assert resource["availability"]["paused_until"] == paused.json()["paused_until"]
        assert_problem(await http.post(f"{base}/pause", json={"minutes": 10}, headers=AGENT_KEYS["priya"]), 403,
                       "forbidden")
        assert_problem(await http.post(f"{base}/pause", json={"minutes": 721}), 422, "validation_error")
        far = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=13)).isoformat()
        assert_problem(await http.post(f"{base}/pause", json={"until": far}), 422, "pause_out_of_range")
        past = (dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)).isoformat()
        assert_problem(await http.post(f"{base}/pause", json={"until": past}), 422, "pause_out_of_range")
        assert_problem(await http.post(f"{base}/pause", json={"minutes": 5, "until": far}), 422, "validation_error")
        resumed = await http.delete(f"{base}/pause", headers=AGENT_KEYS["omar"])
        assert resumed.status_code == 200 and resumed.json()["paused_until"] is None
        # agents may not change schedules or absences, not even their own
        assert_problem(await http.put(f"{base}/schedule", json={"hours": []}, headers=AGENT_KEYS["omar"]), 403,
                       "forbidden")
        assert_problem(await http.post(f"{base}/absences", json=leave, headers=AGENT_KEYS["omar"]), 403,
                       "forbidden")
