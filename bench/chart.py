"""The capture chart of docs/benchmarks.md: throughput and latency against concurrency, HTTP and direct SQL."""

from __future__ import annotations

from pathlib import Path

from bench.capture import Result


def capture_chart(results: list[Result], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")  # no screen: render straight to PNG
    import matplotlib.pyplot as plt

    fig, (rate, latency) = plt.subplots(1, 2, figsize=(11, 4.2), dpi=110)
    styles = {"http": ("HTTP POST /api/v1/leads/capture", "tab:blue"), "sql": ("SQL api.capture_lead", "tab:orange")}
    for mode, (label, colour) in styles.items():
        runs = sorted((r for r in results if r.mode == mode), key=lambda r: r.connections)
        if not runs:
            continue
        xs = [r.connections for r in runs]
        rate.plot(xs, [r.rps for r in runs], marker="o", color=colour, label=label)
        latency.plot(xs, [r.p50_ms for r in runs], marker="o", color=colour, label=f"{label}, p50")
        latency.plot(xs, [r.p99_ms for r in runs], marker="^", linestyle="--", color=colour, label=f"{label}, p99")
    for axis in (rate, latency):
        axis.set_xscale("log", base=2)
        axis.set_xticks(sorted({r.connections for r in results}))
        axis.get_xaxis().set_major_formatter(matplotlib.ticker.ScalarFormatter())
        axis.set_xlabel("concurrent connections")
        axis.grid(True, alpha=0.3)
    rate.set_ylabel("captures per second")
    rate.set_title("Throughput")
    rate.set_ylim(bottom=0)
    latency.set_ylabel("milliseconds")
    latency.set_yscale("log")
    latency.set_title("Latency")
    latency.axhline(100, color="grey", linewidth=0.8, linestyle=":")
    rate.legend(fontsize=8)
    latency.legend(fontsize=7)
    fig.suptitle("Lead capture against concurrency (2 cores shared by load generator, API and PostgreSQL)",
                 fontsize=10)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
