"""The booking benchmark's figures and verdicts: each kind of run's series, the printed
table, where the time to the e-mailed receipt and the CPU go, and the two targets."""

from __future__ import annotations

import os
import statistics
from dataclasses import dataclass, field

from components.registry import COMPONENTS
from workflows.baseline import BOOKING_SHAPE

TARGET_RATIO = 0.8
"""Bookings per second at least this share of the baseline's workflows per second."""
TARGET_EMAILED_RATIO = 1.0
"""A booking's time to its e-mailed receipt, p50, at most this share of the baseline's p50
(the same seven steps)."""


@dataclass
class Series:
    """Latencies of one kind of run, and how long the whole batch took."""

    name: str
    wall: float
    count: int
    latencies: dict[str, list[float]]
    failures: int = 0
    cpu: dict[str, float] = field(default_factory=dict)
    """CPU seconds each process used during the batch."""
    steps: dict[str, list[float]] = field(default_factory=dict)
    """Seconds each step of a run took, per step (a booking's STEP_PATH)."""

    @property
    def rate(self) -> float:
        """Completed runs per second."""
        return self.count / self.wall if self.wall else 0.0


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def report(baseline: Series, bookings: Series, concurrency: int) -> list[str]:
    """The printed table."""
    lines = [
        f"{'run':<32} {'per s':>7} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}  milestone",
    ]
    for series in (baseline, bookings):
        for milestone, values in series.latencies.items():
            ms = [v * 1000 for v in values]
            lines.append(
                f"{series.name:<32} {series.rate:>7.2f} {percentile(ms, 50):>8.0f} "
                f"{percentile(ms, 95):>8.0f} {percentile(ms, 99):>8.0f}  {milestone}"
            )
    if baseline.cpu and bookings.cpu:
        # Where a run's CPU goes: what the machine's two cores are shared out to.
        lines.append(f"{'CPU ms per run':<32} {'baseline':>9} {'booking':>9}")
        names = sorted(bookings.cpu, key=lambda k: -bookings.cpu[k])
        for name in names:
            base_ms = baseline.cpu.get(name, 0.0) * 1000 / max(baseline.count, 1)
            book_ms = bookings.cpu[name] * 1000 / max(bookings.count + bookings.failures, 1)
            if base_ms >= 0.5 or book_ms >= 0.5:
                lines.append(f"  {name:<30} {base_ms:>9.1f} {book_ms:>9.1f}")
        lines += cpu_budget(baseline, bookings, os.cpu_count() or 1)
    lines += step_times(baseline, bookings)
    ratio = bookings.rate / baseline.rate if baseline.rate else 0.0
    verdict = "meets" if ratio >= TARGET_RATIO else "misses"
    lines.append(
        f"booking/baseline throughput: {ratio:.2f} at concurrency {concurrency} "
        f"({verdict} the target of {TARGET_RATIO}); failed bookings: {bookings.failures}"
    )
    base_p50 = percentile(next(iter(baseline.latencies.values()), []), 50)
    emailed_p50 = percentile(bookings.latencies.get("emailed", []), 50)
    latency = emailed_p50 / base_p50 if base_p50 > 0 else float("nan")
    verdict = "meets" if latency <= TARGET_EMAILED_RATIO else "misses"
    lines.append(
        f"time to EMAILED p50 / baseline p50: {latency:.2f} ({verdict} the target of at most "
        f"{TARGET_EMAILED_RATIO})"
    )
    return lines


def step_times(baseline: Series, bookings: Series) -> list[str]:
    """Where the time to the e-mailed receipt goes: each step's p50, beside the baseline's
    p50 shared out over its activities (each a round trip through the server)."""
    if not bookings.steps:
        return []
    done = next(iter(baseline.latencies.values()), [])
    per_activity = percentile([v * 1000 for v in done], 50) / len(BOOKING_SHAPE)
    parts = [
        f"{step} {percentile([v * 1000 for v in values], 50):.0f}"
        for step, values in bookings.steps.items()
    ]
    return [
        "time to EMAILED by step, p50 ms: " + ", ".join(parts),
        f"  the baseline's {len(BOOKING_SHAPE)} activities: {per_activity:.0f} ms each at p50",
    ]


def _is_service(label: str) -> bool:
    """Whether a process of the stack serves components only (`payments`, `bank+mailsink`),
    not a worker, the Temporal server or a tool."""
    return all(part in COMPONENTS for part in label.split("+"))


def cpu_budget(baseline: Series, bookings: Series, cores: int) -> list[str]:
    """What the CPU allows: `cores` give at most `cores` CPU-seconds a second, so a booking
    rate of TARGET_RATIO x the baseline's needs each booking in at most that share of them."""
    runs = bookings.count + bookings.failures
    base_ms = sum(baseline.cpu.values()) * 1000 / max(baseline.count, 1)
    book_ms = sum(bookings.cpu.values()) * 1000 / max(runs, 1)
    services = sum(seconds for name, seconds in bookings.cpu.items() if _is_service(name))
    if base_ms <= 0 or book_ms <= 0 or baseline.rate <= 0:
        return []
    busy_base = base_ms * baseline.rate / 1000
    busy_book = book_ms * bookings.rate / 1000
    target = TARGET_RATIO * baseline.rate
    return [
        f"CPU per run, every process: baseline {base_ms:.0f} ms, booking {book_ms:.0f} ms "
        f"(the services' own work {services * 1000 / max(runs, 1):.0f} ms)",
        f"  cores kept busy: baseline {busy_base:.2f}, booking {busy_book:.2f} of {cores}; "
        f"{TARGET_RATIO} x the baseline ({target:.2f}/s) needs a booking in at most "
        f"{cores * 1000 / target:.0f} ms of CPU",
    ]
