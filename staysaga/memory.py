"""How much memory the stack's processes hold: the resident set (RSS) of each, read from
/proc, summed per process of the stack and in total, for `staysaga up`'s status and the
booking benchmark's report, and the CPU time each has used, for `up`'s account of where its
start-up went.

RSS counts the pages a process shares with others (the interpreter, shared libraries)
once in each, so the total overstates what the machine gives the stack; it is what `ps`
and `top` show, and what the stack's memory figures are measured in.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

_PROC = Path("/proc")


def rss_bytes(pid: int) -> int | None:
    """A process's resident set in bytes; None if it is gone (or /proc is absent)."""
    try:
        fields = (_PROC / str(pid) / "statm").read_text().split()
    except OSError:
        return None
    return int(fields[1]) * os.sysconf("SC_PAGE_SIZE")


def descendants(root: int) -> list[int]:
    """Every live process under `root` (children, grandchildren, ...), not `root` itself."""
    children: dict[int, list[int]] = {}
    for entry in _PROC.iterdir() if _PROC.is_dir() else ():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                children.setdefault(ppid, []).append(int(entry.name))
    found: list[int] = []
    todo = list(children.get(root, []))
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def rss_of(groups: Mapping[str, Iterable[int]]) -> dict[str, int]:
    """name -> bytes resident in the processes of each group (each with its descendants):
    a name per child of the stack, its own children counted in it."""
    used: dict[str, int] = {}
    for name, pids in groups.items():
        total = 0
        for pid in pids:
            for each in (pid, *descendants(pid)):
                total += rss_bytes(each) or 0
        used[name] = total
    return used


def megabytes(value: int) -> str:
    """Bytes as a person reads memory: 83 MB, 1.21 GB."""
    if value >= 1000 * 1000 * 1000:
        return f"{value / 1e9:.2f} GB"
    return f"{value / 1e6:.0f} MB"


def cpu_seconds(pid: int) -> float | None:
    """CPU time (user + system) a process has used so far; None if it is gone (or /proc is
    absent)."""
    try:
        fields = (_PROC / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_seconds_of(pid: int) -> float:
    """CPU time (user + system) a process and its live descendants have used so far."""
    return sum(cpu_seconds(each) or 0.0 for each in (pid, *descendants(pid)))


@dataclass(frozen=True)
class Started:
    """One process of a stack that has just come up: when it answered, what it cost."""

    name: str
    ready_after: float | None
    """Seconds from the start of `up` until its readiness probe passed (None: no probe)."""
    cpu_seconds: float
    rss: int


def startup_table(rows: Sequence[Started], cores: int) -> list[str]:
    """Where a start's time went: each process's readiness, CPU time and memory, the
    slowest to answer first, then the totals and what the CPU time alone takes on `cores`."""
    if not rows:
        return []
    width = max(len(row.name) for row in [*rows, Started("total", None, 0.0, 0)])
    lines = [f"  {'process':<{width}}  {'ready after':>11}  {'CPU':>7}  {'memory':>8}"]
    ordered = sorted(rows, key=lambda row: -(row.ready_after or 0.0))
    for row in ordered:
        ready = "-" if row.ready_after is None else f"{row.ready_after:.1f} s"
        used, rss = f"{row.cpu_seconds:.1f} s", megabytes(row.rss)
        lines.append(f"  {row.name:<{width}}  {ready:>11}  {used:>7}  {rss:>8}")
    cpu = sum(row.cpu_seconds for row in rows)
    lines.append(
        f"  {'total':<{width}}  {'':>11}  {cpu:>5.1f} s  {megabytes(sum(r.rss for r in rows)):>8}"
    )
    lines.insert(0, "start-up (RSS is resident memory):")
    lines.append(
        f"  starting took {cpu:.1f} CPU-seconds, at least {cpu / max(cores, 1):.1f} s on "
        f"{cores} cores however the starts are ordered"
    )
    return lines


def memory_table(used: Mapping[str, int], title: str = "memory (RSS)") -> list[str]:
    """The lines of a per-process memory table, biggest first, then the total."""
    if not used:
        return []
    width = max(len(name) for name in [*used, "total"])
    lines = [f"{title}:"]
    for name, value in sorted(used.items(), key=lambda item: -item[1]):
        lines.append(f"  {name:<{width}}  {megabytes(value):>8}")
    lines.append(f"  {'total':<{width}}  {megabytes(sum(used.values())):>8}")
    return lines
