"""`up --scaled` end to end: bookings through the edge while a copy of every service and
every worker is killed (SIGKILL), then the other copy of each frozen (SIGSTOP); every
booking ends consistent, checked against the services' own data, and none is lost."""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import signal
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import date, timedelta
from typing import Any

import httpx
import pytest
from temporalio.client import WorkflowHandle

from components.registry import COMPONENTS, workers_to_run
from components.settings import load_settings
from staysaga.driver import Room, StackDriver
from staysaga.edge import nginx_binary
from staysaga.invariants import (
    CONFIRMED,
    FAILED_CLEANLY,
    Inspector,
    check_counters,
    wait_until_settled,
)
from staysaga.scaled import server_url
from tests.conftest import postgres_admin_url
from tests.support.stack import READY_LINE, StackProcess, kill_quietly
from workflows.models import BookingState

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]

OWN = [name for name, component in COMPONENTS.items() if not component.stand_in]
WORKERS = [f"worker-{queue}" for queue in workers_to_run()]
BOOKINGS_PER_WAVE = 3
NIGHTS = 2
# Shorter than the launcher's own verdict on a frozen process (STAYSAGA_PROBE_FAILURES
# probes STAYSAGA_PROBE_INTERVAL_SECONDS apart), so the edge alone copes with the freeze.
FREEZE_SECONDS = 4.0
CARD = "4242424242424242"


def _postgres_server() -> str:
    admin = postgres_admin_url()
    if admin is None:
        pytest.skip("TEST_POSTGRES_URL is not set: no PostgreSQL for the scaled stack")
    return server_url(admin)


@pytest.fixture(scope="module")
def stack(tmp_path_factory) -> Iterator[StackProcess]:
    if nginx_binary() is None:
        if os.environ.get("CI"):
            pytest.fail("nginx is missing in CI: .ci/run installs nginx-light")
        pytest.skip("nginx is not installed (apt-get install nginx-light; CI has it)")
    env = {"SCALED_POSTGRES_SERVER": _postgres_server(), "STAYSAGA_LOG_LEVEL": "warning"}
    running = StackProcess(tmp_path_factory.mktemp("scaled") / "var", env, scaled=True).start()
    try:
        running.wait_for_line(READY_LINE, timeout=300)
        yield running
    finally:
        if running.process and running.process.poll() is None:
            running.stop()
        kill_quietly(running.processes())
        running.drop_databases()


@pytest.fixture
async def driver(stack) -> AsyncIterator[StackDriver]:
    opened = await StackDriver.open(load_settings(stack.env))
    try:
        await opened.load_rooms(("Paris", "London"))
        yield opened
    finally:
        await opened.close()


def _signal(stack: StackProcess, names: list[str], sig: signal.Signals) -> list[int]:
    pids = [pid for pid, name in stack.processes().items() if name in names]
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
    return pids


async def _until_back(stack: StackProcess, names: list[str], since: int, timeout: float) -> None:
    """Poll the launcher's output until each of `names` is ready again."""
    deadline = time.monotonic() + timeout
    waiting = set(names)
    while waiting:
        said = stack.lines[since:]
        waiting = {n for n in waiting if not any(f"| {n} is ready again" in x for x in said)}
        assert time.monotonic() < deadline, f"not restarted: {sorted(waiting)}\n{stack.output}"
        await asyncio.sleep(0.2)


class Traveller:
    """One booking through the stack, the way the website makes it."""

    def __init__(self, driver: StackDriver, room: Room, check_in: date) -> None:
        self.driver = driver
        self.room = room
        self.check_in = check_in
        self.booking_id = f"scaled-{uuid.uuid4().hex[:12]}"
        self.user_id = ""
        self.email = ""
        self.card = ""
        self.handle: WorkflowHandle[Any, Any] | None = None

    async def get_ready(self) -> None:
        """An account and a card token (before the faults: a person signs up once)."""
        self.user_id, self.email = await self.driver.register_user()
        self.card = await self.driver.tokenize(CARD, self.user_id)

    async def book(self) -> None:
        """Start the booking and pay once the room is held, asking again while a copy is
        down (a status query or the payment's update, answered by the other copy)."""
        driver = self.driver
        self.handle = await driver.start_booking(
            self.user_id, self.room, self.check_in, NIGHTS, booking_id=self.booking_id
        )
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                view = await driver.status(self.handle)
                if view.state == BookingState.AWAITING_PAYMENT:
                    await driver.pay(self.handle, self.card)
                    return
                if view.state != BookingState.STARTED:
                    return
            except Exception as exc:  # noqa: BLE001 - a restart under way; the update's refusal
                if "already submitted" in str(exc):
                    return
            await asyncio.sleep(0.5)


async def _browse(stack: StackProcess, seen: list[tuple[str, int | str]]) -> None:
    """What a visitor does meanwhile, through the edge: the home page and a search."""
    targets = [stack.url("web") + "/", stack.url("search") + "/hotels?city=Paris"]
    # Longer than the edge's read timeout: a frozen copy's share is answered by the other.
    async with httpx.AsyncClient(timeout=30) as http:
        while True:
            for url in targets:
                try:
                    seen.append((url, (await http.get(url)).status_code))
                except httpx.HTTPError as exc:
                    seen.append((url, repr(exc)))
            await asyncio.sleep(0.3)


async def test_bookings_through_the_edge_stay_consistent_while_copies_are_killed_and_frozen(
    stack, driver
):
    check_in = date.today() + timedelta(days=random.randint(30, 330))  # noqa: S311
    rooms = random.sample(driver.rooms, 2 * BOOKINGS_PER_WAVE)  # noqa: S311
    inspector = Inspector(driver)
    check_out = check_in + timedelta(days=NIGHTS)
    left = {
        room.room_type_id: await inspector.rooms_left(
            room.hotel_id, room.room_type_id, check_in, check_out
        )
        for room in rooms
    }
    travellers = [Traveller(driver, room, check_in) for room in rooms]
    await asyncio.gather(*(t.get_ready() for t in travellers))
    first, second = travellers[:BOOKINGS_PER_WAVE], travellers[BOOKINGS_PER_WAVE:]
    browsed: list[tuple[str, int | str]] = []
    browsing = asyncio.create_task(_browse(stack, browsed))
    bookings: list[asyncio.Task[None]] = []
    try:
        bookings += [asyncio.create_task(t.book()) for t in first]
        since = len(stack.lines)
        killed = _signal(stack, [f"{name}-1" for name in OWN + WORKERS], signal.SIGKILL)
        assert len(killed) == len(OWN + WORKERS)
        await _until_back(stack, [f"{name}-1" for name in OWN + WORKERS], since, timeout=240)

        bookings += [asyncio.create_task(t.book()) for t in second]
        await asyncio.sleep(1.0)  # the second wave's first steps under way
        frozen = _signal(stack, [f"{name}-2" for name in OWN + WORKERS], signal.SIGSTOP)
        try:
            assert len(frozen) == len(OWN + WORKERS)
            await asyncio.sleep(FREEZE_SECONDS)
        finally:
            for pid in frozen:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGCONT)
        await asyncio.gather(*bookings)
        handles = [t.handle for t in travellers if t.handle is not None]
        views, _ = await wait_until_settled(driver, handles, timeout=180)
    finally:
        browsing.cancel()
        for task in bookings:
            task.cancel()

    # None lost: every booking started, and each settled.
    assert len(handles) == len(travellers)
    assert len(views) == len(travellers), {t.booking_id for t in travellers} - {
        v.booking_id for v in views.values()
    }
    verdicts = [
        await inspector.check_booking(views[t.handle.id], t.email)
        for t in travellers
        if t.handle is not None
    ]
    problems = [(v.booking_id, v.outcome, v.problems) for v in verdicts if v.problems]
    assert not problems
    assert {v.outcome for v in verdicts} <= {CONFIRMED, FAILED_CLEANLY}
    for room in rooms:
        assert not await check_counters(
            inspector,
            room.hotel_id,
            room.room_type_id,
            check_in,
            check_out,
            left[room.room_type_id],
        )
    # The edge answered every visitor's request from a copy that was up.
    assert browsed and all(status == 200 for _, status in browsed), browsed
