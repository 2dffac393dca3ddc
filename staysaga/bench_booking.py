"""`staysaga bench booking`: bookings through the real stack against a no-op baseline.

Starts `staysaga up` on free loopback ports in a fresh folder, and the baseline's own
workers (staysaga/bench_workers.py) on the same Temporal server (both in
staysaga/bench_stack.py); then runs N no-op BaselineWorkflows (as many activities, on
queues shaped like a booking's, as a booking's path to its e-mailed receipt) and N real
bookings, each at concurrency C, and prints throughput and latency percentiles for both
and their ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import signal
import subprocess
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

from staysaga.bench_report import (
    Series,
    percentile,
    report,
)
from staysaga.bench_soak import (
    MEMORY_TARGET_BYTES,
    SOAK_STEP,
    Soak,
    after_run,
    soak,
    soak_report,
    stack_memory,
)
from staysaga.bench_stack import stack_cpu, start_baseline_workers, start_stack
from staysaga.driver import StackDriver
from staysaga.memory import cpu_seconds, rss_bytes
from temporal.names import TaskQueue
from web.bookings import HOLD_POLL_SECONDS
from workflows.baseline import BASELINE_WORKFLOW_TYPE, BOOKING_SHAPE, baseline_queue
from workflows.models import BookingState

FOLLOW_SECONDS = HOLD_POLL_SECONDS
"""How often the driver polls a confirmed booking until its receipt is e-mailed. The
baseline's driver learns of its workflow's end at once (a long poll for the result); a
booking is done when a status query sees EMAILED, so at the live page's pace (0.5 s) the
driver's own polling held every booking's slot up to half a second past its end, and that
wait, not the stack, capped the bookings' throughput. The Book button's pace (0.1 s)."""


async def _batch(count: int, concurrency: int, one: Callable[[], Awaitable[None]]) -> float:
    gate = asyncio.Semaphore(concurrency)

    async def guarded() -> None:
        async with gate:
            await one()

    started = time.monotonic()
    await asyncio.gather(*(guarded() for _ in range(count)))
    return time.monotonic() - started


CpuProbe = Callable[[], dict[str, float]]


def _driver_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


ROUNDS = 4
"""The runs of each kind are split into rounds, alternated A B B A ..., so that a drift in
the shared machine's speed (seen here: 30% within minutes) falls on both kinds alike."""


@dataclass
class _Tally:
    """What the rounds of one kind add up to."""

    wall: float = 0.0
    count: int = 0
    failures: int = 0
    cpu: dict[str, float] = field(default_factory=dict)

    def add_cpu(self, before: dict[str, float], after: dict[str, float]) -> None:
        for name, seconds in after.items():
            self.cpu[name] = self.cpu.get(name, 0.0) + seconds - before.get(name, 0.0)


async def measure(
    driver: StackDriver,
    count: int,
    concurrency: int,
    cpu: CpuProbe = dict,
    follow_seconds: float = FOLLOW_SECONDS,
) -> tuple[Series, Series]:
    """The baseline's and the bookings' figures, in alternating rounds on the same stack;
    a confirmed booking is polled every `follow_seconds` until its receipt is e-mailed."""
    baseline_latency: list[float] = []
    confirmed: list[float] = []
    emailed: list[float] = []
    steps: dict[str, list[float]] = {}
    tallies = {"baseline": _Tally(), "booking": _Tally()}

    async def baseline_once() -> None:
        started = time.monotonic()
        await driver.temporal.execute_workflow(
            BASELINE_WORKFLOW_TYPE,
            len(BOOKING_SHAPE),
            id=f"baseline-{uuid.uuid4().hex}",
            task_queue=baseline_queue(TaskQueue.BOOKING),
            result_type=int,
        )
        baseline_latency.append(time.monotonic() - started)
        tallies["baseline"].count += 1

    async def booking_once() -> None:
        # A traveller of their own per concurrent booking: one may keep only a couple of
        # unpaid holds at a time (RESERVATIONS_MAX_UNPAID_HOLDS).
        user_id = await travellers.get()
        try:
            view, timings = await driver.book(user_id, follow_seconds=follow_seconds)
        finally:
            travellers.put_nowait(user_id)
        if view.state != BookingState.CONFIRMED or timings.emailed is None:
            tallies["booking"].failures += 1
            return
        assert timings.confirmed is not None
        confirmed.append(timings.confirmed)
        emailed.append(timings.emailed)
        for step, seconds in timings.steps.items():
            steps.setdefault(step, []).append(seconds)
        tallies["booking"].count += 1

    runs = {"baseline": baseline_once, "booking": booking_once}
    travellers: asyncio.Queue[str] = asyncio.Queue()
    for _ in range(concurrency):
        travellers.put_nowait((await driver.register_user())[0])
    await driver.load_rooms()
    # Warm both paths with one full wave each (connections, token caches, imports, the
    # databases' pages, the workers' caches), so that both are measured in steady state.
    for one in runs.values():
        await _batch(concurrency, concurrency, one)
    for kept in (baseline_latency, confirmed, emailed):
        kept.clear()
    steps.clear()
    tallies = {"baseline": _Tally(), "booking": _Tally()}

    rounds = max(1, min(ROUNDS, count // concurrency))
    for number in range(rounds):
        size = count // rounds + (1 if number < count % rounds else 0)
        order = ["baseline", "booking"] if number % 2 == 0 else ["booking", "baseline"]
        for kind in order:
            before = {**cpu(), "(this driver)": _driver_cpu()}
            tallies[kind].wall += await _batch(size, concurrency, runs[kind])
            tallies[kind].add_cpu(before, {**cpu(), "(this driver)": _driver_cpu()})

    base, book = tallies["baseline"], tallies["booking"]
    baseline = Series(
        f"baseline ({len(BOOKING_SHAPE)} no-op activities)",
        base.wall,
        base.count,
        {"done": baseline_latency},
        cpu=base.cpu,
    )
    bookings = Series(
        "booking (real services)",
        book.wall,
        book.count,
        {"confirmed": confirmed, "emailed": emailed},
        book.failures,
        cpu=book.cpu,
        steps=steps,
    )
    return baseline, bookings


Measured = tuple[Series, Series, dict[str, int], int]
"""A stack's baseline, its bookings, every process's memory (PSS) after the run, and the
sum of their RSS."""


def measure_stack(var_dir: Path, args: argparse.Namespace, scaled: bool) -> Measured:
    """Start a stack (embedded, or `up --scaled`), measure it, read its memory, stop it."""
    kind = "`up --scaled`" if scaled else "the embedded stack"
    print(f"starting {kind} in {var_dir} ...", flush=True)
    stack = start_stack(var_dir, scaled=scaled)
    baseline_workers: subprocess.Popen[str] | None = None
    try:
        # A shared machine under load takes minutes to start either stack.
        stack.wait_until_up(timeout=600)
        baseline_workers = start_baseline_workers(stack.env)
        workers_pid = baseline_workers.pid
        load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
        print(
            f"stack up; load average {load}; {args.bookings} runs each at concurrency "
            f"{args.concurrency} (a confirmed booking polled every {args.follow_seconds} s); "
            f"{os.cpu_count()} CPUs shared by the stack and this driver",
            flush=True,
        )

        async def run() -> tuple[Series, Series]:
            driver = await StackDriver.open(stack.settings)
            try:
                return await measure(
                    driver,
                    args.bookings,
                    args.concurrency,
                    follow_seconds=args.follow_seconds,
                    cpu=lambda: {
                        **stack_cpu(stack.process.pid),
                        "bench workers": cpu_seconds(workers_pid) or 0.0,
                    },
                )
            finally:
                await driver.close()

        baseline, bookings = asyncio.run(run())
        pid = stack.process.pid
        rss_total = sum(stack_memory(pid, rss_bytes).values())
        return baseline, bookings, stack_memory(pid), rss_total
    finally:
        if baseline_workers is not None and baseline_workers.poll() is None:
            baseline_workers.send_signal(signal.SIGINT)
            baseline_workers.wait(60)
        stack.stop()


def compare(runs: dict[str, Measured]) -> list[str]:
    """One line per stack: the baseline's rate, the bookings' rate and latencies."""
    lines = [
        f"{'stack':<10} {'baseline/s':>10} {'bookings/s':>10} {'confirmed p50/p95 ms':>21} "
        f"{'emailed p50/p95 ms':>19} {'failed':>6}"
    ]
    for name, (baseline, bookings, _, _) in runs.items():
        confirmed = [v * 1000 for v in bookings.latencies["confirmed"]]
        emailed = [v * 1000 for v in bookings.latencies["emailed"]]
        lines.append(
            f"{name:<10} {baseline.rate:>10.2f} {bookings.rate:>10.2f} "
            f"{percentile(confirmed, 50):>10.0f} / {percentile(confirmed, 95):>6.0f} "
            f"{percentile(emailed, 50):>9.0f} / {percentile(emailed, 95):>6.0f} "
            f"{bookings.failures:>6}"
        )
    return lines


def run_booking_bench(args: argparse.Namespace) -> int:
    """Start a stack, measure, print, stop; with --scaled, the embedded stack first and
    then `up --scaled`, one after the other in the same run."""
    if args.soak:
        return run_soak(args)
    kinds = {"embedded": False, "scaled": True} if args.scaled else {"embedded": False}
    runs: dict[str, Measured] = {}
    with tempfile.TemporaryDirectory(prefix="staysaga-bench-booking-") as temp:
        for name, scaled in kinds.items():
            root = Path(args.var_dir or temp)
            runs[name] = measure_stack(root / name if args.scaled else root, args, scaled)
            baseline, bookings, memory, rss_total = runs[name]
            if args.scaled:
                print(f"-- {name} --", flush=True)
            for line in report(baseline, bookings, args.concurrency):
                print(line, flush=True)
            for line in after_run(memory, None if scaled else MEMORY_TARGET_BYTES, rss_total):
                print(line, flush=True)
    if args.scaled:
        for line in compare(runs):
            print(line, flush=True)
    return 0 if all(bookings.failures == 0 for _, bookings, _, _ in runs.values()) else 1


def run_soak(args: argparse.Namespace) -> int:
    """`bench booking --soak`: book N times on one stack, reading every process's memory
    every hundred bookings; no baseline."""
    with tempfile.TemporaryDirectory(prefix="staysaga-bench-soak-") as temp:
        var_dir = Path(args.var_dir or temp)
        print(f"starting the stack in {var_dir} ...", flush=True)
        stack = start_stack(var_dir)
        try:
            stack.wait_until_up()
            print(
                f"stack up; {args.bookings} bookings at concurrency {args.concurrency}, "
                f"memory read every {SOAK_STEP}",
                flush=True,
            )

            async def run() -> Soak:
                driver = await StackDriver.open(stack.settings)
                try:
                    return await soak(
                        driver,
                        args.bookings,
                        args.concurrency,
                        lambda: stack_memory(stack.process.pid),
                        lambda line: print(line, flush=True),
                    )
                finally:
                    await driver.close()

            result = asyncio.run(run())
        finally:
            stack.stop()
    for line in soak_report(result, MEMORY_TARGET_BYTES):
        print(line, flush=True)
    return 0 if result.failures == 0 else 1
