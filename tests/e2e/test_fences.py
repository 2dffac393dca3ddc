"""Compensation fences on the real stack: a slow service's late effect never outlives the
saga's undo.

A booking whose step ran out of time is voided and released; an authorization or a
confirm that lands afterwards (a slow bank, a frozen Reservations resuming with requests
in its socket) must be undone too, so that the FAILED booking holds no money and no room.
Each check reads the services' own data, through `staysaga.invariants`.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
from collections.abc import AsyncIterator
from datetime import date, timedelta

import pytest

from components.registry import COMPONENTS
from staysaga.driver import StackDriver
from staysaga.invariants import FAILED_CLEANLY, Inspector
from tests.support.harness import eventually
from tests.support.stack import running_stack, stack_driver
from workflows.models import BookingState, Step

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        not {"users", "pdf", "mailsink", "payments", "reservations"} <= set(COMPONENTS),
        reason="the saga needs every service in COMPONENTS",
    ),
]

SUCCEEDS = "4242424242424242"
# Each step before confirmation may take this long, retries included.
BUDGET_SECONDS = 5
# Slower than the step's budget, quicker than Payments waits for the bank
# (HTTP_CLIENT_TIMEOUT): the bank's answer reaches Payments after the booking voided.
BANK_LATENCY_MS = 8_000
# Long enough for a second confirm attempt on a fresh connection, which a frozen
# Reservations keeps in its backlog (a reused keep-alive connection is reset on resume).
CONFIRM_BUDGET_SECONDS = 15


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    # A frozen process stays frozen: the launcher's liveness probe does not restart it.
    with running_stack(
        tmp_path_factory.mktemp("fences"), {"STAYSAGA_PROBE_FAILURES": "100000"}
    ) as running:
        yield running


@pytest.fixture
async def driver(stack) -> AsyncIterator[StackDriver]:
    async with stack_driver(stack) as opened:
        yield opened


async def _bank_faults(driver: StackDriver, **faults: int) -> None:
    secret = driver.secrets.shared("BANK_SECRET_KEY")
    response = await driver.http.put(
        f"{driver.settings.url('bank')}/admin/faults",
        json={"error_rate": 0, "timeout_rate": 0, "latency_ms": 0, **faults},
        headers={"Authorization": f"Bearer {secret}"},
    )
    assert response.status_code == 200, response.text


def _stay() -> date:
    """A check-in date no other booking of the test run is likely to share."""
    return date.today() + timedelta(days=random.randint(60, 360))  # noqa: S311


async def test_an_authorization_landing_after_the_void_is_voided_at_the_bank(driver):
    inspector = Inspector(driver)
    user_id, _ = await driver.register_user()
    handle = await driver.start_booking(
        user_id, driver.rooms[0], _stay(), step_budget_seconds=BUDGET_SECONDS
    )
    await driver.wait_for(handle, lambda v: v.state == BookingState.AWAITING_PAYMENT)
    token = await driver.tokenize(SUCCEEDS)
    await _bank_faults(driver, latency_ms=BANK_LATENCY_MS)
    try:
        view = await driver.pay(handle, token)
        # The step gave up on an authorization still on its way to the bank. Whatever the
        # bank did with it, nothing may be left open there.
        assert view.state == BookingState.FAILED, view
        assert {Step.VOIDED, Step.RELEASED} <= set(view.steps)
        left = await inspector.bank_authorizations(view.booking_id)
        assert [a for a in left if a["status"] != "voided"] == []

        async def landed_and_voided() -> None:
            authorizations = await inspector.bank_authorizations(view.booking_id)
            assert authorizations, "the bank has not authorized yet"
            verdict = await inspector.check_booking(view)
            assert verdict.outcome == FAILED_CLEANLY, verdict.problems
            assert [a["status"] for a in authorizations] == ["voided"]

        await eventually(landed_and_voided, timeout=60, interval=0.5)
    finally:
        await _bank_faults(driver)
    payment = await inspector.payment(view.booking_id)
    assert payment is None or payment["status"] == "voided", payment


async def test_a_confirm_resumed_after_the_release_leaves_no_reservation(driver, stack):
    inspector = Inspector(driver)
    user_id, _ = await driver.register_user()
    room, check_in = driver.rooms[1], _stay()
    check_out = check_in + timedelta(days=2)
    before = await inspector.rooms_left(room.hotel_id, room.room_type_id, check_in, check_out)
    handle = await driver.start_booking(
        user_id, room, check_in, step_budget_seconds=CONFIRM_BUDGET_SECONDS
    )
    await driver.wait_for(handle, lambda v: v.state == BookingState.AWAITING_PAYMENT)
    token = await driver.tokenize(SUCCEEDS)
    (reservations,) = [p for p, name in stack.processes().items() if name == "reservations"]
    os.kill(reservations, signal.SIGSTOP)
    try:
        paying = asyncio.create_task(driver.pay(handle, token))
        # Authorized, then the confirm waits in the frozen service's socket past its
        # budget; the saga voids the payment and waits for the release.
        frozen = await driver.wait_for(
            handle, lambda v: Step.VOIDED in v.steps, timeout=CONFIRM_BUDGET_SECONDS + 60
        )
        assert Step.PAID in frozen.steps and Step.CONFIRMED not in frozen.steps
    finally:
        os.kill(reservations, signal.SIGCONT)
    view = await asyncio.wait_for(paying, timeout=120)
    assert view.state == BookingState.FAILED, view
    assert Step.RELEASED in view.steps

    async def undone() -> None:
        verdict = await inspector.check_booking(view)
        assert verdict.outcome == FAILED_CLEANLY, verdict.problems
        hold = await inspector.hold(view.hold_id or "")
        assert hold is not None and hold["status"] == "released", hold
        left = await inspector.rooms_left(room.hotel_id, room.room_type_id, check_in, check_out)
        assert left == before
        authorizations = await inspector.bank_authorizations(view.booking_id)
        assert [a["status"] for a in authorizations] == ["voided"]

    await eventually(undone, timeout=30, interval=0.5)
    assert not any(
        r["status"] == "confirmed" and r["booking_id"] == view.booking_id
        for r in await inspector.reservations(user_id)
    )
