"""The booking benchmark's memory figures: every process's memory (PSS, see
staysaga.memory) once a run is done, and `--soak`, which books N times on one stack and
reports each process's growth per 100 bookings once warmed up (a leak shows as growth that
does not flatten).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from staysaga.driver import StackDriver
from staysaga.forkserver import FORK_SERVER, forked_children, stack_component
from staysaga.memory import descendants, megabytes, memory_of, memory_table, pss_bytes
from workflows.models import BookingState

MEMORY_TARGET_BYTES = 1_100_000_000
"""The whole stack's memory (PSS) after a thousand bookings, at most."""
SOAK_STEP = 100
"""Bookings between two readings of the stack's memory."""
WARM_UP_STEPS = 2
"""Readings left out of the growth figure: the first hundreds fill caches and pools."""


def _label(pid: int) -> str:
    """A stack process's name as `up` names it, else its program."""
    component = stack_component(pid)
    if component is not None:
        return component
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return str(pid)
    return Path(argv[0].decode(errors="replace")).name or str(pid)


def stack_memory(launcher: int, measure: Callable[[int], int | None] = pss_bytes) -> dict[str, int]:
    """Bytes (PSS unless told) in each process `up` started, its own children counted in
    it, and in the launcher. The fork server's copies are processes of their own."""
    direct = [pid for pid in descendants(launcher) if _parent(pid) == launcher]
    servers = [pid for pid in direct if _label(pid) == FORK_SERVER]
    forked = [pid for server in servers for pid in forked_children(server)]
    groups = {_label(pid): [pid] for pid in [*direct, *forked] if pid not in servers}
    used = memory_of(groups, measure)
    for server in servers:
        used[FORK_SERVER] = measure(server) or 0
    used["staysaga (launcher)"] = measure(launcher) or 0
    return used


def _parent(pid: int) -> int | None:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None


@dataclass
class Soak:
    """Readings of the stack's memory, one every SOAK_STEP bookings."""

    done: list[int] = field(default_factory=list)
    """Bookings done at each reading."""
    readings: list[dict[str, int]] = field(default_factory=list)
    failures: int = 0
    first_error: str | None = None
    """What the first booking that raised said (a timeout on a loaded machine, say)."""
    seconds: float = 0.0

    def growth_per_step(self) -> dict[str, float]:
        """Bytes each process grew per SOAK_STEP bookings after the warm-up readings: the
        least-squares slope, so one noisy reading does not make a trend."""
        kept = list(zip(self.done, self.readings, strict=True))[WARM_UP_STEPS:]
        if len(kept) < 2:
            return {}
        names = set().union(*(reading for _, reading in kept))
        return {name: _slope([(n, r.get(name, 0)) for n, r in kept]) * SOAK_STEP for name in names}


def _slope(points: Sequence[tuple[int, int]]) -> float:
    mean_x = sum(x for x, _ in points) / len(points)
    mean_y = sum(y for _, y in points) / len(points)
    spread = sum((x - mean_x) ** 2 for x, _ in points)
    return sum((x - mean_x) * (y - mean_y) for x, y in points) / spread if spread else 0.0


async def soak(
    driver: StackDriver,
    count: int,
    concurrency: int,
    memory: Callable[[], dict[str, int]],
    say: Callable[[str], None] = lambda _line: None,
) -> Soak:
    """Book `count` times at `concurrency`, reading the stack's memory first and after
    every SOAK_STEP bookings (each reading also said as it comes). A booking that fails,
    or whose driver call raises, is counted and the soak goes on."""
    result = Soak()
    travellers: asyncio.Queue[str] = asyncio.Queue()
    for _ in range(concurrency):
        travellers.put_nowait((await driver.register_user())[0])
    await driver.load_rooms()
    result.done.append(0)
    result.readings.append(memory())
    gate = asyncio.Semaphore(concurrency)

    async def one() -> None:
        async with gate:
            user_id = await travellers.get()
            try:
                view, timings = await driver.book(user_id)
            except Exception as exc:
                result.failures += 1
                result.first_error = result.first_error or f"{type(exc).__name__}: {exc}"
                return
            finally:
                travellers.put_nowait(user_id)
            if view.state != BookingState.CONFIRMED or timings.emailed is None:
                result.failures += 1

    started = time.monotonic()
    done = 0
    while done < count:
        size = min(SOAK_STEP, count - done)
        await asyncio.gather(*(one() for _ in range(size)))
        done += size
        result.done.append(done)
        result.readings.append(memory())
        say(
            f"after {done} bookings ({result.failures} failed): the stack holds "
            f"{megabytes(sum(result.readings[-1].values()))}"
        )
    result.seconds = time.monotonic() - started
    return result


def soak_report(result: Soak, target_bytes: int | None = None) -> list[str]:
    """The soak's table: each process's memory at each reading (MB), its growth per
    SOAK_STEP bookings once warmed up, then the totals."""
    if not result.readings:
        return []
    last = result.readings[-1]
    names = sorted(last, key=lambda name: -last[name])
    width = max(len(name) for name in [*names, "total"])
    shown = _columns(len(result.readings))
    header = " ".join(f"{result.done[i]:>6}" for i in shown)
    lines = [
        f"memory (PSS, MB) after N bookings; growth per {SOAK_STEP} after the first "
        f"{WARM_UP_STEPS * SOAK_STEP}:",
        f"  {'process':<{width}} {header}  {'growth':>9}",
    ]
    growth = result.growth_per_step()
    for name in [*names, "total"]:
        values = [
            sum(r.values()) if name == "total" else r.get(name, 0)
            for r in (result.readings[i] for i in shown)
        ]
        rise = sum(growth.values()) if name == "total" else growth.get(name)
        rise_text = "" if rise is None else f"{rise / 1e6:+8.1f}M"
        lines.append(
            f"  {name:<{width}} "
            + " ".join(f"{v / 1e6:>6.0f}" for v in values)
            + f"  {rise_text:>9}"
        )
    total = sum(last.values())
    verdict = ""
    if target_bytes is not None:
        verdict = f" ({'meets' if total <= target_bytes else 'misses'} {megabytes(target_bytes)})"
    lines.append(
        f"{result.done[-1]} bookings in {result.seconds:.0f} s, {result.failures} failed; "
        f"stack total {megabytes(total)}{verdict}"
    )
    if result.first_error:
        lines.append(f"first failure: {result.first_error}")
    return lines


def _columns(count: int, most: int = 11) -> list[int]:
    """Which readings fit the table: all, or an even spread with the first and the last."""
    if count <= most:
        return list(range(count))
    step = (count - 1) / (most - 1)
    return sorted({round(i * step) for i in range(most)})


def after_run(
    used: Mapping[str, int], target_bytes: int | None = None, rss_total: int | None = None
) -> list[str]:
    """The memory table printed after a benchmark run (PSS), with the target when given,
    and the sum of the processes' RSS when given."""
    lines = memory_table(used, "memory after the run (PSS)")
    if lines and rss_total is not None:
        lines.append(f"  (RSS, shared pages counted in each process: {megabytes(rss_total)})")
    if lines and target_bytes is not None:
        total = sum(used.values())
        verdict = "meets" if total <= target_bytes else "misses"
        lines.append(f"  ({verdict} the target of {megabytes(target_bytes)} for the whole stack)")
    return lines
