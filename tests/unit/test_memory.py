"""The stack's memory figures: resident memory per process from /proc, a process counted
with its children, and the soak's growth per hundred bookings."""

from __future__ import annotations

import asyncio
import os
import sys
from typing import cast

import pytest

from staysaga.bench_soak import WARM_UP_STEPS, Soak, soak, soak_report
from staysaga.driver import StackDriver
from staysaga.memory import (
    Started,
    cpu_seconds_of,
    descendants,
    memory_of,
    memory_table,
    pss_bytes,
    rss_bytes,
    rss_of,
    startup_table,
)
from tests.support.harness import eventually
from workflows.models import BookingState

# A process that starts one child and waits; both end when their stdin closes.
PARENT = (
    "import subprocess, sys\n"
    "child = subprocess.Popen([sys.executable, '-c', 'import sys; sys.stdin.read()'],"
    " stdin=subprocess.PIPE)\n"
    "sys.stdin.read()\n"
    "child.stdin.close(); child.wait()\n"
)


def _vm_rss() -> int:
    for line in open("/proc/self/status"):  # noqa: SIM115 - read once
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def test_a_process_resident_memory_is_what_the_kernel_reports():
    ours = rss_bytes(os.getpid())
    assert ours is not None
    assert abs(ours - _vm_rss()) < 8 * 1024 * 1024
    assert rss_bytes(2**22 + 12345) is None  # no such process


async def test_a_process_is_counted_with_its_children():
    parent = await asyncio.create_subprocess_exec(
        sys.executable, "-c", PARENT, stdin=asyncio.subprocess.PIPE
    )
    try:

        async def child_started() -> int:
            (child,) = descendants(parent.pid)
            return child

        child = await eventually(child_started, timeout=30)
        alone = rss_bytes(parent.pid) or 0
        used = rss_of({"parent": [parent.pid]})
        assert used["parent"] >= alone + (rss_bytes(child) or 1)
    finally:
        assert parent.stdin is not None
        parent.stdin.close()
        await asyncio.wait_for(parent.wait(), 30)


# Holds 64 MB, forks, and both wait on stdin: the pages are the parent's and the child's.
SHARING = (
    "import os, sys\n"
    "held = bytearray(os.urandom(64 * 1024 * 1024))\n"
    "child = os.fork()\n"
    "os.write(1, f'{child}\\n'.encode())\n"
    "sys.stdin.read()\n"
    "if child: os.waitpid(child, 0)\n"
)


async def test_pages_shared_after_a_fork_count_once_in_the_proportional_set():
    parent = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        SHARING,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert parent.stdout is not None
        lines = [await parent.stdout.readline() for _ in range(2)]
        child = max(int(line) for line in lines)
        pids = (parent.pid, child)
        rss = sum(rss_bytes(pid) or 0 for pid in pids)
        pss = sum(pss_bytes(pid) or 0 for pid in pids)
        # RSS counts the 64 MB in each; PSS half in each.
        assert rss - pss > 50 * 1024 * 1024, (rss, pss)
        assert memory_of({"both": [parent.pid]})["both"] == pytest.approx(pss, rel=0.1)
        assert pss_bytes(2**22 + 12345) is None  # no such process
    finally:
        assert parent.stdin is not None
        parent.stdin.close()
        await asyncio.wait_for(parent.wait(), 30)


def test_the_memory_table_lists_the_biggest_first_then_the_total():
    lines = memory_table({"bank": 80_000_000, "temporal": 180_000_000})
    assert lines[0] == "memory (PSS):"
    assert [line.split()[0] for line in lines[1:]] == ["temporal", "bank", "total"]
    assert lines[-1].split()[-2:] == ["260", "MB"]
    assert memory_table({"a": 900_000_000, "b": 300_000_000})[-1].endswith("1.20 GB")


def _soak(grow: dict[str, int], warm: int = 50_000_000) -> Soak:
    """Readings every 100 bookings: each process gains `warm` bytes during the warm-up,
    then `grow[name]` per reading."""
    result = Soak()
    for step in range(8):
        after = max(0, step - WARM_UP_STEPS)
        reading = {
            name: 100_000_000 + min(step, WARM_UP_STEPS) * warm + after * per
            for name, per in grow.items()
        }
        result.done.append(step * 100)
        result.readings.append(reading)
    return result


def test_the_soak_counts_growth_only_after_the_warm_up():
    result = _soak({"flat": 0, "leaky": 2_000_000})
    growth = result.growth_per_step()
    assert abs(growth["flat"]) < 1
    assert abs(growth["leaky"] - 2_000_000) < 1
    lines = soak_report(result, target_bytes=1_000_000_000)
    row = {line.split()[0]: line for line in lines}
    assert row["leaky"].endswith("+2.0M") and row["flat"].endswith("+0.0M")
    assert "700 bookings" in lines[-1] and "meets" in lines[-1]
    assert "misses" in soak_report(result, target_bytes=100_000_000)[-1]


class _Driver:
    """Books instantly; the third booking's status query times out."""

    def __init__(self) -> None:
        self.calls = 0

    async def register_user(self) -> tuple[str, str]:
        return f"user-{self.calls}", "token"

    async def load_rooms(self) -> None:
        return None

    async def book(self, user_id: str) -> tuple[object, object]:
        self.calls += 1
        if self.calls == 3:
            raise TimeoutError("status query timed out")
        return _View(), _Timings()


class _View:
    state = BookingState.CONFIRMED


class _Timings:
    emailed = 1.0


async def test_a_soak_counts_a_booking_that_raises_and_goes_on():
    said: list[str] = []
    result = await soak(
        cast(StackDriver, _Driver()), 200, 5, lambda: {"bank": 80_000_000}, said.append
    )
    assert result.done == [0, 100, 200]
    assert result.failures == 1
    assert result.first_error == "TimeoutError: status query timed out"
    assert said == [
        "after 100 bookings (1 failed): the stack holds 80 MB",
        "after 200 bookings (1 failed): the stack holds 80 MB",
    ]


def test_the_startup_table_lists_the_slowest_to_answer_first_then_the_totals():
    lines = startup_table(
        [
            Started("search", 2.5, 1.5, 90_000_000, 40_000_000),
            Started("temporal", 4.0, 3.0, 200_000_000, 190_000_000),
            Started("staysaga (launcher)", None, 0.5, 50_000_000, 30_000_000),
        ],
        cores=2,
    )
    names = [line.split()[0] for line in lines[2:-2]]
    assert names == ["temporal", "search", "staysaga"]
    assert lines[2].split()[1:] == ["4.0", "s", "3.0", "s", "190", "MB", "200", "MB"]
    assert lines[-2].split()[1:] == ["5.0", "s", "260", "MB", "340", "MB"]
    assert (
        lines[-1].strip()
        == "starting took 5.0 CPU-seconds, at least 2.5 s on 2 cores however the starts are ordered"
    )


# A process that starts a child that spends half a CPU-second, then both wait on stdin.
BUSY_PARENT = PARENT.replace(
    "'import sys; sys.stdin.read()'",
    "'import sys, time\\nt = time.process_time()\\n"
    "while time.process_time() - t < 0.5: pass\\nsys.stdin.read()'",
)


async def test_a_process_cpu_time_counts_its_childrens():
    parent = await asyncio.create_subprocess_exec(
        sys.executable, "-c", BUSY_PARENT, stdin=asyncio.subprocess.PIPE
    )
    try:

        async def child_has_spent_its_half_second() -> float:
            (child,) = descendants(parent.pid)
            assert cpu_seconds_of(child) >= 0.5
            return cpu_seconds_of(parent.pid)

        together = await eventually(child_has_spent_its_half_second, timeout=30)
        assert together >= 0.5
    finally:
        assert parent.stdin is not None
        parent.stdin.close()
        await asyncio.wait_for(parent.wait(), 30)
    assert cpu_seconds_of(2**22 + 12345) == 0.0  # no such process
