"""`staysaga chaos`: a fault drill on a stack of its own.

Concurrent bookings race for a few rooms (the smallest room types of two cities, one stay)
with a short step budget, while a fault schedule runs: processes killed (workers and
services), a service frozen (SIGSTOP) for longer than a step's budget, the bank failing,
losing answers and slowing down, the Temporal dev server killed, the whole stack stopped
and started again on its var dir. Once every booking has settled, each service's own data
and Temporal are checked (staysaga.invariants): every booking is confirmed exactly once or
failed cleanly, the night counters agree with the reservations, no workflow is stuck.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from temporalio.client import WorkflowHandle
from temporalio.service import RPCError

from components import registry
from components.settings import load_settings
from services.bank import api as bank_api
from staysaga.chaos_plan import BadArguments, Booking, Plan, Report, plan_from
from staysaga.driver import Room, StackDriver
from staysaga.invariants import (
    CONFIRMED,
    FAILED_CLEANLY,
    INCONSISTENT,
    STUCK,
    Inspector,
    Verdict,
    check_counters,
    stuck_reason,
    wait_until_settled,
)
from staysaga.stackprocess import READY_LINE, StackProcess, kill_quietly
from workflows.models import BookingState

CARD = "4242424242424242"
NIGHTS = 2
READY_TIMEOUT = 300.0
# How long a call the drill itself makes (a traveller's click) keeps being retried while the
# stack is down or restarting.
PATIENCE = 240.0
# The components the drill never kills: the website and the operators' codec, which no
# booking of the drill passes through (it starts bookings on Temporal itself), and the
# authorization server, which its schedule leaves out. Every other one may be killed.
SPARED = ("auth", "codec", "web")
SERVICES = tuple(name for name in registry.COMPONENTS if name not in SPARED)
WORKERS = tuple(worker.client_id for worker in registry.WORKERS.values())
# Frozen for longer than a step's budget: the services the saga calls before a booking is
# confirmed (its hold and its payment), where a step that runs out of time must compensate.
FROZEN = ("reservations", "payments")


def run_chaos(args: argparse.Namespace) -> int:
    """`staysaga chaos`: 0 if every booking ended as it must, 1 if not, 2 for bad arguments."""
    try:
        plan = plan_from(args)
    except BadArguments as exc:
        print(f"staysaga chaos: {exc}", file=sys.stderr)
        return 2
    report = asyncio.run(Drill(plan).run())
    return 0 if report.ok else 1


def say(text: str) -> None:
    """A line of the drill's progress."""
    print(f"chaos | {text}", flush=True)


async def patiently(what: str, call: Callable[[], Awaitable[object]]) -> object:
    """Run a call, retrying while the stack is restarting, for up to PATIENCE seconds."""
    deadline = time.monotonic() + PATIENCE
    delay = 0.5
    while True:
        try:
            return await call()
        except Exception as exc:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{what}: {exc}") from exc
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)


class Drill:
    """One fault drill: its own stack, its bookings, its fault schedule, its checks."""

    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.rng = random.Random(plan.seed)  # noqa: S311 - fault dice, not cryptography
        self.folder = Path(tempfile.mkdtemp(prefix="staysaga-chaos-"))
        self.stack = StackProcess(self.folder / "var")
        self.driver: StackDriver | None = None
        self.check_in = date.today() + timedelta(days=self.rng.randint(30, 330))
        self.rooms: dict[int, tuple[Room, int]] = {}
        self.last_fault_ended = time.monotonic()
        self.report = Report(bookings=plan.bookings)
        self.restarting = asyncio.Event()

    async def run(self) -> Report:
        """Run the drill from start to report; the stack is stopped whatever happens."""
        say(
            f"seed {self.plan.seed}: {self.plan.bookings} bookings, step budget "
            f"{self.plan.budget} s, stay from {self.check_in}; stack in {self.folder}"
        )
        try:
            await self._start_stack(attempts=3)
            self.driver = await StackDriver.open(load_settings(self.stack.env))
            await self._choose_rooms()
            bookings = [Booking(f"chaos{self.plan.seed}-{i}") for i in range(self.plan.bookings)]
            faults = asyncio.create_task(self._faults())
            await asyncio.gather(*(self._book(b, i) for i, b in enumerate(bookings)))
            await faults
            await self._check(bookings)
        except Exception as exc:  # noqa: BLE001 - reported, and the stack still stops
            self.report.problems.append(f"the drill itself failed: {exc!r}")
        finally:
            if self.driver is not None:
                await self.driver.close()
            await asyncio.to_thread(self._stop_stack)
        self._print()
        return self.report

    # ---- the stack -------------------------------------------------------------------

    async def _start_stack(self, attempts: int = 1) -> None:
        """Start `up` and wait for it; a first start may pick other free ports and try
        again, should another program take one of them meanwhile."""
        for attempt in range(1, attempts + 1):
            self.stack.start()
            try:
                await asyncio.to_thread(self.stack.wait_for_line, READY_LINE, READY_TIMEOUT)
            except AssertionError:
                if attempt == attempts or self.stack.process is None:
                    raise
                if self.stack.process.poll() is None:
                    await asyncio.to_thread(self.stack.stop)
                kill_quietly(self.stack.processes())
                say("`up` could not start; trying again on other ports")
                self.stack = StackProcess(self.folder / "var")
                continue
            say("stack is up")
            return

    def _stop_stack(self) -> None:
        log = self.folder / "stack.log"
        log.write_text(self.stack.output + "\n")
        process = self.stack.process
        if process is not None and process.poll() is None:
            with contextlib.suppress(Exception):
                self.stack.stop(timeout=90)
        kill_quietly(self.stack.processes())
        if self.report.ok:
            shutil.rmtree(self.folder, ignore_errors=True)
        else:
            say(f"the stack's output is kept in {log}")

    def _pids(self, component: str) -> list[int]:
        # A process serving several components is named after each ("bank+mailsink").
        return [pid for pid, name in self.stack.processes().items() if component in name.split("+")]

    # ---- bookings ----------------------------------------------------------------------

    async def _choose_rooms(self) -> None:
        """The smallest room types until they hold about half the bookings."""
        driver = self.driver
        assert driver is not None
        inspector = Inspector(driver)
        await driver.load_rooms(("Paris", "London"))
        check_out = self.check_in + timedelta(days=NIGHTS)
        sizes: list[tuple[int, Room]] = []
        for room in driver.rooms[:60]:
            left = await inspector.rooms_left(
                room.hotel_id, room.room_type_id, self.check_in, check_out
            )
            sizes.append((left, room))
        sizes.sort(key=lambda pair: (pair[0], pair[1].room_type_id))
        wanted = max(1, self.plan.bookings // 2)
        for left, room in sizes:
            if sum(n for _, n in self.rooms.values()) >= wanted:
                break
            self.rooms[room.room_type_id] = (room, left)
        total = sum(n for _, n in self.rooms.values())
        say(f"{len(self.rooms)} room types with {total} rooms for {self.plan.bookings} bookings")

    async def _book(self, booking: Booking, index: int) -> None:
        """One traveller: sign up, book, pay; the outcome is checked later."""
        driver = self.driver
        assert driver is not None
        await asyncio.sleep(self.plan.spread * index / self.plan.bookings)
        rooms = list(self.rooms.values())
        booking.room = rooms[index % len(rooms)][0]
        try:
            booking.user_id, booking.email = await patiently("sign-up", driver.register_user)  # type: ignore[misc]
            booking.handle = await patiently("start", lambda: self._start(booking))  # type: ignore[assignment]
            await self._pay(booking)
        except Exception as exc:  # noqa: BLE001 - the traveller gives up; checked later
            booking.trouble = str(exc)

    async def _start(self, booking: Booking) -> WorkflowHandle[Any, Any]:
        driver = self.driver
        assert driver is not None and booking.room is not None
        try:
            return await driver.start_booking(
                booking.user_id,
                booking.room,
                self.check_in,
                NIGHTS,
                step_budget_seconds=self.plan.budget,
                booking_id=booking.booking_id,
            )
        except Exception as exc:
            if "already" in str(exc).lower():  # the first start went through after all
                return driver.temporal.get_workflow_handle(f"booking-{booking.booking_id}")
            raise

    async def _pay(self, booking: Booking) -> None:
        driver = self.driver
        assert driver is not None and booking.handle is not None
        handle = booking.handle
        token = str(await patiently("card", lambda: driver.tokenize(CARD, booking.user_id)))
        deadline = time.monotonic() + PATIENCE
        while time.monotonic() < deadline:
            try:
                view = await driver.status(handle)
                if view.state != BookingState.AWAITING_PAYMENT:
                    if view.state != BookingState.STARTED:
                        return  # failed while holding, or already paid
                    await asyncio.sleep(0.5)
                    continue
                await driver.pay(handle, token)
                return
            except Exception as exc:  # noqa: BLE001 - a restart, or "submit again"
                if "already submitted" in str(exc):
                    return
                await asyncio.sleep(1.0)

    # ---- faults ------------------------------------------------------------------------

    async def _faults(self) -> None:
        """The fault schedule, paced over the bookings' spread."""
        budget = self.plan.budget
        spread = self.plan.spread
        schedule: list[tuple[float, str, Callable[[], Awaitable[None]]]] = [
            (0.15, "bank: 30% errors, 20% lost answers", self._bank_faults(0.3, 0.2, 0)),
            (0.3, "SIGKILL a worker", self._kill(WORKERS)),
            (0.45, f"freeze a service for {budget + 5} s", self._freeze(budget + 5.0)),
            (0.7, "bank: latency spike", self._bank_faults(0.0, 0.0, budget * 1500)),
            (0.85, "bank: faults off", self._bank_faults(0.0, 0.0, 0)),
        ]
        if not self.plan.quick:
            schedule += [
                (0.2, "SIGKILL a service", self._kill(SERVICES)),
                (0.55, "SIGKILL another worker", self._kill(WORKERS)),
                (0.6, "restart the Temporal dev server", self._kill(("temporal",))),
                (0.8, "restart the whole stack", self._restart_stack),
            ]
        schedule.sort(key=lambda item: item[0])
        began = time.monotonic()
        for share, name, action in schedule:
            await asyncio.sleep(max(0.0, began + share * spread - time.monotonic()))
            say(f"fault at {time.monotonic() - began:5.1f} s: {name}")
            try:
                await action()
            except Exception as exc:  # noqa: BLE001 - a fault that could not be injected
                say(f"  could not: {exc!r}")
            self.report.faults.append(name)
            self.last_fault_ended = time.monotonic()
        await self._bank_faults(0.0, 0.0, 0)()

    def _bank_faults(
        self, error_rate: float, timeout_rate: float, latency_ms: int
    ) -> Callable[[], Awaitable[None]]:
        async def switch() -> None:
            driver = self.driver
            assert driver is not None
            bank = driver.bank("BANK_SECRET_KEY")
            faults = bank_api.FaultConfig(
                error_rate=error_rate,
                timeout_rate=timeout_rate,
                latency_ms=min(latency_ms, 60_000),
                seed=self.plan.seed,
            )

            async def put() -> None:
                await bank.set_faults(faults)

            await patiently("bank faults", put)
            if latency_ms:
                await asyncio.sleep(self.plan.budget * 1.5)

        return switch

    def _kill(self, components: tuple[str, ...]) -> Callable[[], Awaitable[None]]:
        async def kill() -> None:
            name = self.rng.choice(components)
            pids = self._pids(name)
            say(f"  SIGKILL {name} {pids}")
            for pid in pids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)

        return kill

    def _freeze(self, seconds: float) -> Callable[[], Awaitable[None]]:
        async def freeze() -> None:
            name = self.rng.choice(FROZEN)
            pids = self._pids(name)
            say(f"  SIGSTOP {name} {pids} for {seconds:.0f} s")
            for pid in pids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGSTOP)
            try:
                await asyncio.sleep(seconds)
            finally:
                for pid in pids:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGCONT)

        return freeze

    async def _restart_stack(self) -> None:
        status = await asyncio.to_thread(self.stack.stop, signal.SIGINT, 90.0)
        say(f"  `up` stopped with status {status}; starting it again on the same var dir")
        kill_quietly(self.stack.processes())
        await self._start_stack()

    # ---- checks ------------------------------------------------------------------------

    async def _check(self, bookings: list[Booking]) -> None:
        driver = self.driver
        assert driver is not None
        inspector = Inspector(driver)
        started = [b for b in bookings if b.handle is not None]
        for booking in bookings:
            if booking.handle is None:
                self.report.problems.append(
                    f"{booking.booking_id}: never started: {booking.trouble}"
                )
        say(f"waiting for {len(started)} bookings to settle ...")
        handles = [b.handle for b in started if b.handle is not None]
        views, last = await wait_until_settled(driver, handles, timeout=300.0)
        self.report.recovery_seconds = max(0.0, last - self.last_fault_ended)
        for booking in started:
            assert booking.handle is not None
            view = views.get(booking.handle.id)
            if view is None:
                reason = await _describe(booking.handle)
                verdict = Verdict(booking.booking_id, STUCK, [reason])
            else:
                verdict = await inspector.check_booking(view, booking.email)
            self._count(verdict)
        check_out = self.check_in + timedelta(days=NIGHTS)
        for room, total in self.rooms.values():
            self.report.problems += await check_counters(
                inspector, room.hotel_id, room.room_type_id, self.check_in, check_out, total
            )

    def _count(self, verdict: Verdict) -> None:
        report = self.report
        if verdict.outcome == CONFIRMED:
            report.confirmed += 1
        elif verdict.outcome == FAILED_CLEANLY:
            report.failed_cleanly += 1
        elif verdict.outcome == INCONSISTENT:
            report.inconsistent += 1
        else:
            report.stuck += 1
        if verdict.problems:
            report.problems.append(
                f"{verdict.booking_id} {verdict.outcome}: " + "; ".join(verdict.problems)
            )

    def _print(self) -> None:
        say("faults: " + ", ".join(self.report.faults))
        for problem in self.report.problems:
            say(f"PROBLEM {problem}")
        print(self.report.table(), flush=True)
        say("every booking ended as it must" if self.report.ok else "the drill found problems")


async def _describe(handle: WorkflowHandle[Any, Any]) -> str:
    try:
        return await stuck_reason(handle)
    except RPCError as exc:
        return f"cannot describe: {exc}"
