"""Prometheus metrics of one app (GET /metrics): request latency by route, captures by source and outcome, the
dashboard cache's hits and misses, sweep durations, webhook attempts by outcome and their latency from commit to 2xx;
the assignment queue and the outbox's depth and oldest age are read from the database at each scrape.
Each app has its own registry (tests build many apps in one process).

With several worker processes (`crmctl serve --workers N` sets PROMETHEUS_MULTIPROC_DIR) every process writes its
values to files of that directory and a scrape, whichever worker answers it, sums the counters and histograms of all
of them; the gauges read at the scrape (queue, database_up, hit ratio) are the most recent one written.
"""

from __future__ import annotations

import os

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest, multiprocess

# outcomes of a capture whose source the database accepted (a row of crm.lead_sources): only those label the
# source, so the label's values stay the table's rows and a client cannot grow them
ACCEPTED_OUTCOMES = frozenset({"assigned", "queued", "replayed", "duplicate"})
LATENCY_BUCKETS = (0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.multiprocess = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))
        self.requests = Histogram(
            "http_request_duration_seconds", "Time from a request's arrival to its response, by route template",
            ["method", "route", "status"], buckets=LATENCY_BUCKETS, registry=self.registry)
        self.captures = Counter(
            "leads_captured_total", "Lead captures by source and outcome (assigned, queued, replayed, duplicate, "
            "invalid, refused, unavailable)", ["source", "outcome"], registry=self.registry)
        self.cache = Counter("dashboard_cache_requests_total", "Dashboard requests by cache result (hit, miss)",
                             ["result"], registry=self.registry)
        self.cache_ratio = Gauge("dashboard_cache_hit_ratio",
                                 "Hits / (hits + misses) since the process (all workers) started",
                                 registry=self.registry, multiprocess_mode="mostrecent")
        self.sweeps = Histogram(
            "sweep_duration_seconds", "Duration of the background jobs: the sweeps (jobs.run_sweeps) and the analytics "
            "snapshot refresh, as the database measured them", ["job"],
            buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0), registry=self.registry)
        self.queue = Gauge("assignment_queue_length", "Open leads waiting for an agent with capacity",
                           registry=self.registry, multiprocess_mode="mostrecent")
        self.queue_age = Gauge("assignment_queue_oldest_seconds", "How long the oldest queued lead has waited",
                               registry=self.registry, multiprocess_mode="mostrecent")
        self.webhook_attempts = Counter(
            "webhook_delivery_attempts_total", "Webhook requests sent, by outcome (delivered: 2xx; failed: another "
            "status, a timeout or a refused connection; gone: 410, the subscription disabled)", ["outcome"],
            registry=self.registry)
        self.webhook_dead = Counter("webhook_deliveries_dead_total",
                                    "Deliveries given up after webhook_retry_limit (listed, redeliverable)",
                                    registry=self.registry)
        self.webhook_latency = Histogram(
            "webhook_delivery_latency_seconds", "From the event's commit to the subscriber's 2xx answer",
            buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 3600.0),
            registry=self.registry)
        self.outbox_depth = Gauge("outbox_depth", "Webhook deliveries pending (due, leased or waiting for a retry)",
                                  registry=self.registry, multiprocess_mode="mostrecent")
        self.outbox_age = Gauge("outbox_oldest_undelivered_seconds",
                                "Age of the event of the oldest pending webhook delivery",
                                registry=self.registry, multiprocess_mode="mostrecent")
        self.database_up = Gauge("database_up", "1 when the last scrape reached the database", registry=self.registry,
                                 multiprocess_mode="mostrecent")

    def capture(self, source: object, outcome: str) -> None:
        known = isinstance(source, str) and outcome in ACCEPTED_OUTCOMES
        self.captures.labels(source if known else "unknown", outcome).inc()

    def cache_result(self, hit: bool) -> None:
        self.cache.labels("hit" if hit else "miss").inc()

    def sweep(self, job: str, duration_ms: object) -> None:
        if isinstance(duration_ms, int | float):
            self.sweeps.labels(job).observe(duration_ms / 1000)

    def webhook_attempt(self, outcome: str, latency_s: float | None) -> None:
        self.webhook_attempts.labels(outcome).inc()
        if latency_s is not None:
            self.webhook_latency.observe(max(latency_s, 0.0))

    def webhooks_dead(self, count: int) -> None:
        if count:
            self.webhook_dead.inc(count)

    def render(self, queue: dict[str, object] | None) -> bytes:
        """The exposition text; `queue` is api.metrics() (None when the database did not answer)."""
        self.database_up.set(0 if queue is None else 1)
        if queue is not None:
            self.queue.set(float(queue.get("queue_length") or 0))  # type: ignore[arg-type]
            self.queue_age.set(float(queue.get("oldest_queued_seconds") or 0))  # type: ignore[arg-type]
            self.outbox_depth.set(float(queue.get("outbox_depth") or 0))  # type: ignore[arg-type]
            self.outbox_age.set(float(queue.get("outbox_oldest_seconds") or 0))  # type: ignore[arg-type]
        if not self.multiprocess:
            hits = self.cache.labels("hit")._value.get()
            misses = self.cache.labels("miss")._value.get()
            self.cache_ratio.set(hits / (hits + misses) if hits + misses else 0.0)
            return generate_latest(self.registry)
        every_worker = CollectorRegistry()
        multiprocess.MultiProcessCollector(every_worker)  # type: ignore[no-untyped-call]
        results = {sample.labels.get("result"): sample.value for family in every_worker.collect()
                   if family.name == "dashboard_cache_requests" for sample in family.samples
                   if sample.name.endswith("_total")}
        hits, misses = results.get("hit", 0.0), results.get("miss", 0.0)
        self.cache_ratio.set(hits / (hits + misses) if hits + misses else 0.0)
        return generate_latest(every_worker)
