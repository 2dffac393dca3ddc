"""How much memory the stack's processes hold, read from /proc and summed per process of
the stack and in total, for `staysaga up`'s status and the booking benchmark's report, and
the CPU time each has used, for `up`'s account of where its start-up went.

Two measures of a process's memory:

- RSS, the resident set: what `ps` and `top` show. It counts a page the process shares
  with others (the interpreter, shared libraries, and under `up` the code every process
  is a copy of) in full in each, so a sum of RSS counts each shared page once per process.
- PSS, the proportional set: a page shared by n processes counts 1/n in each, so the sum
  over the stack's processes is the memory the machine gives the stack. The stack's
  memory figures and targets are PSS; RSS is printed beside it.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
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


def pss_bytes(pid: int) -> int | None:
    """A process's proportional set in bytes; None if it is gone (or /proc is absent)."""
    try:
        with (_PROC / str(pid) / "smaps_rollup").open() as rollup:
            for line in rollup:
                if line.startswith("Pss:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


Tree = Mapping[int, Sequence[int]]
"""pid -> the pids of its live children: one reading of /proc (`process_tree`)."""


def process_tree() -> dict[int, list[int]]:
    """Every live process's children, read from /proc once."""
    children: dict[int, list[int]] = {}
    for entry in _PROC.iterdir() if _PROC.is_dir() else ():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                children.setdefault(ppid, []).append(int(entry.name))
    return children


def descendants(root: int, tree: Tree | None = None) -> list[int]:
    """Every live process under `root` (children, grandchildren, ...), not `root` itself;
    from `tree` when given, else from /proc now."""
    children = process_tree() if tree is None else tree
    found: list[int] = []
    todo = list(children.get(root, []))
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def rss_of(groups: Mapping[str, Iterable[int]], tree: Tree | None = None) -> dict[str, int]:
    """name -> bytes resident in the processes of each group (each with its descendants):
    a name per child of the stack, its own children counted in it."""
    return memory_of(groups, rss_bytes, tree)


def memory_of(
    groups: Mapping[str, Iterable[int]],
    measure: Callable[[int], int | None] = pss_bytes,
    tree: Tree | None = None,
) -> dict[str, int]:
    """name -> bytes of `measure` (PSS unless told) over the processes of each group, each
    with its descendants."""
    tree = process_tree() if tree is None else tree
    used: dict[str, int] = {}
    for name, pids in groups.items():
        total = 0
        for pid in pids:
            for each in (pid, *descendants(pid, tree)):
                total += measure(each) or 0
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


def cpu_seconds_of(pid: int, tree: Tree | None = None) -> float:
    """CPU time (user + system) a process and its live descendants have used so far."""
    return sum(cpu_seconds(each) or 0.0 for each in (pid, *descendants(pid, tree)))


@dataclass(frozen=True)
class Started:
    """One process of a stack that has just come up: when it answered, what it cost."""

    name: str
    ready_after: float | None
    """Seconds from the start of `up` until its readiness probe passed (None: no probe)."""
    cpu_seconds: float
    rss: int
    pss: int


def startup_table(rows: Sequence[Started], cores: int) -> list[str]:
    """Where a start's time went: each process's readiness, CPU time and memory, the
    slowest to answer first, then the totals and what the CPU time alone takes on `cores`."""
    if not rows:
        return []
    width = max(len(row.name) for row in [*rows, Started("total", None, 0.0, 0, 0)])
    lines = [f"  {'process':<{width}}  {'ready after':>11}  {'CPU':>7}  {'PSS':>8}  {'RSS':>8}"]
    ordered = sorted(rows, key=lambda row: -(row.ready_after or 0.0))
    for row in ordered:
        ready = "-" if row.ready_after is None else f"{row.ready_after:.1f} s"
        used, pss, rss = f"{row.cpu_seconds:.1f} s", megabytes(row.pss), megabytes(row.rss)
        lines.append(f"  {row.name:<{width}}  {ready:>11}  {used:>7}  {pss:>8}  {rss:>8}")
    cpu = sum(row.cpu_seconds for row in rows)
    pss, rss = megabytes(sum(r.pss for r in rows)), megabytes(sum(r.rss for r in rows))
    lines.append(f"  {'total':<{width}}  {'':>11}  {cpu:>5.1f} s  {pss:>8}  {rss:>8}")
    lines.insert(
        0,
        "start-up (memory: PSS counts a page shared by n processes 1/n in each, so its "
        "total is the stack's; RSS counts it in each):",
    )
    lines.append(
        f"  starting took {cpu:.1f} CPU-seconds, at least {cpu / max(cores, 1):.1f} s on "
        f"{cores} cores however the starts are ordered"
    )
    return lines


def memory_table(used: Mapping[str, int], title: str = "memory (PSS)") -> list[str]:
    """The lines of a per-process memory table, biggest first, then the total."""
    if not used:
        return []
    width = max(len(name) for name in [*used, "total"])
    lines = [f"{title}:"]
    for name, value in sorted(used.items(), key=lambda item: -item[1]):
        lines.append(f"  {name:<{width}}  {megabytes(value):>8}")
    lines.append(f"  {'total':<{width}}  {megabytes(sum(used.values())):>8}")
    return lines
