"""What the outbox costs and how fast its dispatcher delivers (issue 15), on copies of the capture template.

1. The capture A/B at 16 connections, HTTP (wrk) and direct SQL (pgbench), one sitting: events off
   (`events_enabled` false), events on with no subscriber, and events on with a subscriber to every topic while the
   API process's dispatcher delivers them to a local receiver (devservers/webhook_receiver.py, checking every
   signature) on the same two cores: the whole cost. The last run also gives the delivery latency, from each
   event's occurred_at (just before its commit) to its arrival at the receiver.
2. Dispatcher throughput: deliveries written by a burst of captures with no dispatcher running, then one API process
   starts and drains them to the receiver; deliveries per second between the first and the last arrival.
"""

from __future__ import annotations

import json
import shutil
import statistics
import time
from dataclasses import asdict, dataclass
from functools import partial
from typing import Any

import psycopg

from bench import capture
from devservers.webhook_receiver import Receiver


@dataclass
class OutboxRun:
    label: str
    mode: str   # http | sql
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    events: int
    deliveries: int
    delivered: int
    latency_p50_ms: float | None = None
    latency_p95_ms: float | None = None
    latency_p99_ms: float | None = None
    signatures_ok: bool | None = None


def _subscribe(url: str, receiver: Receiver, topics: str = "{*}") -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("UPDATE crm.settings SET value = 'true' WHERE setting_key = 'webhook_allow_private_targets'")
        row = conn.execute("INSERT INTO crm.webhook_subscriptions (url, topics, secret, description) "
                           "VALUES (%s, %s, crm.new_webhook_secret(), 'bench receiver') RETURNING secret",
                           (receiver.url, topics)).fetchone()
    assert row is not None
    receiver.secret = str(row[0])


def _counts(url: str) -> tuple[int, int, int]:
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute("SELECT (SELECT count(*) FROM crm.outbox_events e WHERE e.occurred_at > now() - interval "
                           "'1 hour' AND e.actor <> 'seed'), (SELECT count(*) FROM crm.webhook_deliveries), "
                           "(SELECT count(*) FROM crm.webhook_deliveries WHERE state = 'delivered')").fetchone()
    assert row is not None
    return int(row[0]), int(row[1]), int(row[2])


def _settle(url: str, timeout_s: float = 120) -> None:
    """Until no delivery is pending (the dispatcher caught up), or the time runs out."""
    deadline = time.monotonic() + timeout_s
    with psycopg.connect(url, autocommit=True) as conn:
        while time.monotonic() < deadline:
            row = conn.execute("SELECT count(*) FROM crm.webhook_deliveries WHERE state = 'pending'").fetchone()
            if row is not None and row[0] == 0:
                return
            time.sleep(0.2)


def _pct_ms(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(1000 * ordered[min(len(ordered) - 1, int(q * len(ordered)))], 1)


def _jobs_url(url: str) -> str:
    return capture._with_db(url, url.rsplit("/", 1)[-1], "thinkrealty_jobs")


# the A/B proper (events off, on) alternates over two rounds, so the machine's drift falls on both sides alike
AB_ORDER = ("events off", "events on, no subscriber", "events off", "events on, no subscriber",
            "events on, subscriber + dispatcher")


def run_ab(admin_url: str, redis_url: str, template: str, seconds: int, connections: int = 16) -> list[OutboxRun]:
    runs: list[OutboxRun] = []
    for mode in ("sql", "http"):
        for label in AB_ORDER:
            url = capture._copy(admin_url, template, "bench_outbox")
            receiver: Receiver | None = None
            env = {"WEBHOOK_DISPATCH": "false"}
            if label == "events off":
                with psycopg.connect(url, autocommit=True) as conn:
                    conn.execute("UPDATE crm.settings SET value = 'false' WHERE setting_key = 'events_enabled'")
            if "subscriber" in label and "no subscriber" not in label:
                receiver = Receiver()
                receiver.start()
                _subscribe(url, receiver)
                env = {"WEBHOOK_DISPATCH": "true", "JOBS_DATABASE_URL": _jobs_url(url)}
            with psycopg.connect(admin_url, autocommit=True) as conn:
                conn.execute("CHECKPOINT")
            dispatcher: capture.ApiServer | None = None
            try:
                if mode == "sql":
                    if receiver is not None:  # the dispatcher of an API process that serves nothing else
                        app = capture._with_db(url, url.rsplit("/", 1)[-1], "thinkrealty_app")
                        dispatcher = capture.ApiServer(app, redis_url, env)
                    result = capture.run_sql(url, connections, seconds)
                    if receiver is not None:
                        _settle(url)
                else:   # the API process's own dispatcher delivers what is left after the load, then it stops
                    result = capture.run_http(url, redis_url, connections, seconds, extra_env=env,
                                              before_stop=partial(_settle, url) if receiver is not None else None)
            finally:
                if dispatcher is not None:
                    dispatcher.stop()
                if receiver is not None:
                    receiver.stop()
            events, deliveries, delivered = _counts(url)
            run = OutboxRun(label, mode, result.rps, result.p50_ms, result.p99_ms, result.non_2xx, events,
                            deliveries, delivered)
            if receiver is not None:
                latencies = [a.latency_s for a in receiver.arrivals]
                run.latency_p50_ms = _pct_ms(latencies, 0.50)
                run.latency_p95_ms = _pct_ms(latencies, 0.95)
                run.latency_p99_ms = _pct_ms(latencies, 0.99)
                run.signatures_ok = all(a.signature_ok for a in receiver.arrivals)
            print(json.dumps(asdict(run)), flush=True)
            runs.append(run)
            capture.require_no_violations(url)
            capture.drop(admin_url, url)
    return runs


@dataclass
class DrainRun:
    deliveries: int
    seconds: float
    rate: float
    signatures_ok: bool
    duplicates: int


def run_drain(admin_url: str, redis_url: str, template: str, capture_seconds: int) -> DrainRun:
    """A backlog written with no dispatcher running, then drained by one API process's dispatcher."""
    url = capture._copy(admin_url, template, "bench_outbox_drain")
    receiver = Receiver()
    receiver.start()
    try:
        _subscribe(url, receiver)
        capture.run_sql(url, 16, capture_seconds)   # the backlog: every event of every capture, pending
        _, backlog, _ = _counts(url)
        app = capture._with_db(url, url.rsplit("/", 1)[-1], "thinkrealty_app")
        server = capture.ApiServer(app, redis_url, {"WEBHOOK_DISPATCH": "true", "JOBS_DATABASE_URL": _jobs_url(url)})
        try:
            _settle(url, timeout_s=300)
        finally:
            server.stop()
        arrivals = sorted(receiver.arrivals, key=lambda a: a.at)
        elapsed = arrivals[-1].at - arrivals[0].at if len(arrivals) > 1 else float("nan")
        ids = [a.event_id for a in arrivals]
        result = DrainRun(backlog, round(elapsed, 2), round(len(set(ids)) / elapsed, 1),
                          all(a.signature_ok for a in arrivals), len(ids) - len(set(ids)))
        print(json.dumps(asdict(result)), flush=True)
        capture.require_no_violations(url)
        return result
    finally:
        receiver.stop()
        capture.drop(admin_url, url)


def run(admin_url: str, redis_url: str, seconds: int) -> dict[str, Any]:
    template = capture.prepare_template(admin_url)
    return {"ab": run_ab(admin_url, redis_url, template, seconds),
            "drain": run_drain(admin_url, redis_url, template, max(5, seconds // 2)),
            "wrk": bool(shutil.which("wrk")), "seconds": seconds}


def section(results: dict[str, Any]) -> str:
    runs: list[OutboxRun] = results["ab"]
    drain: DrainRun = results["drain"]
    lines = ["## Webhooks", "",
             f"`make bench BENCH_ARGS=\"--only webhooks\"` (bench/webhooks.py): captures at 16 connections for "
             f"{results['seconds']} s per run, one sitting, each run on a fresh copy of the capture template "
             "(demo data and 400 extra agents, every one on shift around the clock); events off and on alternate over "
             "two rounds; the receiver is devservers/webhook_receiver.py in the benchmark's "
             "process, checking every signature. \"subscriber + dispatcher\": one subscription to every topic "
             "(`*`), the API process's dispatcher delivering while the captures run, on the same two cores "
             "(for SQL, an API process that only dispatches). Latency: from each event's `occurred_at` (written just "
             "before its commit) to its arrival, over every delivery of the run, including those delivered after "
             "the load stopped.", "",
             "| path | run | captures/s | vs events off | p50 ms | p99 ms | errors | events | deliveries | "
             "delivered | latency p50 / p95 / p99 ms | signatures |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    base = {mode: statistics.median(r.rps for r in runs if r.mode == mode and r.label == "events off")
            for mode in {r.mode for r in runs}}
    for r in runs:
        share = f"{100 * r.rps / base[r.mode]:.0f} %" if base.get(r.mode) else "-"
        latency = (f"{r.latency_p50_ms} / {r.latency_p95_ms} / {r.latency_p99_ms}"
                   if r.latency_p50_ms is not None else "-")
        signatures = "-" if r.signatures_ok is None else ("all valid" if r.signatures_ok else "INVALID")
        lines.append(f"| {r.mode} | {r.label} | {r.rps} | {share} | {r.p50_ms} | {r.p99_ms} | {r.errors} | "
                     f"{r.events} | {r.deliveries} | {r.delivered} | {latency} | {signatures} |")
    medians = []
    for mode in sorted(base):
        on = statistics.median(r.rps for r in runs if r.mode == mode and r.label == "events on, no subscriber")
        on_share = 100 * on / base[mode]
        medians.append(f"{mode}: events on {on:.1f}/s against off {base[mode]:.1f}/s = **{on_share:.0f} %**")
    lines += ["", "Medians of the two alternating rounds (\"vs events off\" is against the off median): "
              + "; ".join(medians) + "."]
    lines += ["", f"Dispatcher throughput: a backlog of {drain.deliveries} deliveries (captures with no dispatcher "
              f"running), drained by one API process to the local receiver in {drain.seconds} s: **{drain.rate} "
              f"deliveries/s** ({'every signature valid' if drain.signatures_ok else 'INVALID signatures'}, "
              f"{drain.duplicates} repeats)."]
    if not results["wrk"]:
        lines += ["", "wrk was not installed: the HTTP load came from a Python generator on the same cores."]
    return "\n".join(lines) + "\n"
