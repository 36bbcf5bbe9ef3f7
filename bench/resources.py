"""The REST resources at scale (issue 14's targets): one lead, an agent's active leads, a name search, and a cursor
walk, timed as the API's login runs them (one statement each: api.begin_request with the demo supervisor key, then
the api function), and the plan of each list query as PostgreSQL ran it (auto_explain of the nested statement).

`python -m bench.resources [--write]` runs it alone on the scale database of `make bench` (DATABASE_URL, or an
embedded server; the database is built if missing and reused if present; --write puts the section into
docs/benchmarks.md); `make bench` includes it."""

from __future__ import annotations

import json
import os
import random
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

SUPERVISOR_KEY = "trk_de000004_demo-supervisor"
RUNS = 60


@dataclass
class ResourceTimings:
    p50_ms: dict[str, float] = field(default_factory=dict)
    p95_ms: dict[str, float] = field(default_factory=dict)
    pages_ms: list[float] = field(default_factory=list)  # p50 of page 1..10 of a cursor walk
    plans: dict[str, str] = field(default_factory=dict)


def _app_url(url: str) -> str:
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if parts.password:  # a server that needs passwords: measure as the owner (the same statements)
        return url
    return urlunsplit((parts.scheme, "thinkrealty_app@" + parts.netloc.rsplit("@", 1)[-1], parts.path, parts.query,
                       parts.fragment))


def _time(conn: psycopg.Connection, query: str, args: tuple[Any, ...]) -> tuple[float, Any]:
    started = time.perf_counter()
    row = conn.execute(query, args).fetchone()
    return (time.perf_counter() - started) * 1000, row[0] if row else None


def _p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 2)


LIST = "SELECT api.list_leads(%s, %s, %s, %s) FROM api.begin_request(%s) AS ctx"


def run(url: str) -> ResourceTimings:
    result = ResourceTimings()
    rng = random.Random(14)
    with psycopg.connect(url, autocommit=True) as owner:
        leads = [r[0] for r in owner.execute("SELECT lead_id FROM crm.leads TABLESAMPLE SYSTEM (1) LIMIT 2000")]
        agents = [r[0] for r in owner.execute(
            "SELECT agent_id FROM crm.agents WHERE role = 'agent' AND active_leads > 0 ORDER BY active_leads DESC "
            "LIMIT 40")]
        names = [r[0] for r in owner.execute(
            "SELECT lower(first_name) FROM crm.leads TABLESAMPLE SYSTEM (1) WHERE length(first_name) >= 4 LIMIT 500")]
    with psycopg.connect(_app_url(url), autocommit=True) as conn:
        conn.execute("SELECT api.get_lead(%s) FROM api.begin_request(%s) AS ctx", (leads[0], SUPERVISOR_KEY))  # warm
        cases: dict[str, list[float]] = {"get_lead": [], "agent_active_first_page": [], "name_search_first_page": [],
                                         "created_first_page": []}
        for _ in range(RUNS):
            cases["get_lead"].append(_time(conn, "SELECT api.get_lead(%s) FROM api.begin_request(%s) AS ctx",
                                           (rng.choice(leads), SUPERVISOR_KEY))[0])
            cases["agent_active_first_page"].append(_time(conn, LIST, (
                Jsonb({"active": True, "agent_id": str(rng.choice(agents))}), "-created", 50, None,
                SUPERVISOR_KEY))[0])
            name = rng.choice(names)
            start = rng.randrange(0, len(name) - 3)
            cases["name_search_first_page"].append(_time(conn, LIST, (
                Jsonb({"q": name[start:start + 3]}), "-created", 50, None, SUPERVISOR_KEY))[0])
        pages: list[list[float]] = [[] for _ in range(10)]
        for _ in range(RUNS // 6):
            cursor = None
            for page in range(10):
                ms, body = _time(conn, LIST, (Jsonb({"active": True}), "-created", 50, cursor, SUPERVISOR_KEY))
                pages[page].append(ms)
                cursor = body["next"]
        cases["created_first_page"] = pages[0]
        for name, values in cases.items():
            result.p50_ms[name] = _p(values, 0.5)
            result.p95_ms[name] = _p(values, 0.95)
        result.pages_ms = [_p(v, 0.5) for v in pages]
    result.plans = plans(url, str(agents[0]), names[0][:3])
    return result


def plans(url: str, agent_id: str, term: str) -> dict[str, str]:
    """The plans of the list queries as run inside api.list_leads (auto_explain of nested statements, as notices),
    in a DBA's session acting as the supervisor."""
    found: dict[str, str] = {}
    notices: list[str] = []
    with psycopg.connect(url, autocommit=True) as conn:
        conn.add_notice_handler(lambda diag: notices.append(diag.message_primary or ""))
        try:
            conn.execute("LOAD 'auto_explain'")
        except psycopg.Error:
            return {"(auto_explain not available)": ""}
        for setting in ("auto_explain.log_min_duration = 0", "auto_explain.log_nested_statements = on",
                        "auto_explain.log_analyze = on", "auto_explain.log_timing = on",
                        "auto_explain.log_buffers = off", "auto_explain.log_level = notice",
                        "auto_explain.log_format = text"):
            conn.execute(f"SET {setting}")
        for label, filters, sort in (
                ("an agent's active leads, newest first", {"active": True, "agent_id": agent_id}, "-created"),
                (f"name search q={term!r}", {"q": term}, "-created"),
                ("all active leads by score, first page", {"active": True}, "-score")):
            notices.clear()
            with conn.transaction():
                conn.execute("SELECT crm.act_as('supervisor', NULL)")
                conn.execute("SELECT api.list_leads(%s, %s, 50, NULL)", (Jsonb(filters), sort))
            page = [n for n in notices if "WITH page AS" in n or "FROM crm.leads AS l" in n]
            found[label] = page[0] if page else "\n".join(notices)[-4000:]
    return found


def section(result: ResourceTimings, leads: int) -> str:
    rows = ["| request (one statement as the API's login) | p50 ms | p95 ms | target |", "|---|---|---|---|"]
    targets = {"get_lead": "p50 ≤ 5 ms", "agent_active_first_page": "p50 ≤ 20 ms",
               "name_search_first_page": "p50 ≤ 50 ms", "created_first_page": "page 10 no slower than page 1"}
    labels = {"get_lead": "`GET /api/v1/leads/{id}` (`api.get_lead`)",
              "agent_active_first_page": "`GET /api/v1/leads?active=true&agent_id=…` first page",
              "name_search_first_page": "`GET /api/v1/leads?q=<3 letters of a name>` first page",
              "created_first_page": "`GET /api/v1/leads?active=true` first page (newest first)"}
    for name, label in labels.items():
        rows.append(f"| {label} | {result.p50_ms[name]:.2f} | {result.p95_ms[name]:.2f} | {targets[name]} |")
    walk = ", ".join(f"{v:.1f}" for v in result.pages_ms)
    plans_text = "\n\n".join(f"**{label}**\n\n```\n{plan.strip()}\n```" for label, plan in result.plans.items())
    return f"""<!-- resources -->
## REST resources at scale

On the scale database ({leads:,} leads), {RUNS} requests of each kind as the API's login (`api.begin_request` with
the demo supervisor key, then the api function: one statement, timed from the client on the same machine), random
leads, agents and three-letter name fragments. Written by `python -m bench.resources` (part of `make bench`).

{chr(10).join(rows)}

A cursor walk of the active leads, newest first, 50 a page: p50 per page, pages 1 to 10: {walk} ms (keyset: page 10
starts from its cursor's position in the index, it does not skip the rows before it). Each list statement is planned
at its call (the filters present become its conditions), which costs a few milliseconds of the agent list's time;
the plans below show the execution alone.

The plans of the list queries as they ran inside `api.list_leads` (auto_explain of the nested statement, in a DBA's
session acting as the supervisor):

{plans_text}
<!-- /resources -->
"""


def main() -> int:
    from bench import scale

    leads = int(os.environ.get("BENCH_LEADS", "1000000"))
    pg = None
    tmp = Path(tempfile.mkdtemp(prefix="bench-resources-"))
    try:
        admin_url = os.environ.get("DATABASE_URL")
        if not admin_url:
            from devservers.postgres import EmbeddedPostgres

            pg = EmbeddedPostgres(tmp / "postgres").start()
            admin_url = pg.url()
        url, _ = scale.prepare(admin_url, leads, 200)
        result = run(url)
    finally:
        if pg is not None:
            pg.destroy()
    print(json.dumps({"p50_ms": result.p50_ms, "p95_ms": result.p95_ms, "pages_ms": result.pages_ms}, indent=1))
    text = section(result, leads)
    if "--write" in sys.argv[1:]:  # replace (or add) the section in docs/benchmarks.md, before the comparisons
        doc = Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md"
        current = doc.read_text()
        if "<!-- resources -->" in current:
            start, end = current.index("<!-- resources -->"), current.index("<!-- /resources -->")
            current = current[:start] + text + current[end + len("<!-- /resources -->") + 1:]
        else:
            at = current.index("<!-- comparisons -->") if "<!-- comparisons -->" in current else len(current)
            current = current[:at] + text + "\n" + current[at:]
        doc.write_text(current)
        print(f"wrote the section into {doc}")
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
