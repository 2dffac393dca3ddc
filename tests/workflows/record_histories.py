"""Records the committed histories: `python -m tests.workflows.record_histories [NAME...]`.

Runs paths of the saga (happy, decline, expiry, cancel) on the time-skipping server with
the stand-in activities and writes each history as JSON under histories/. Re-record only
on purpose: these files pin the behaviour running bookings depend on. After a change
guarded by `workflow.patched`, keep the old files (they replay the old path) and record
the new path under a new name, naming only it.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from tests.conftest import start_time_skipping
from tests.workflows.standins import World
from tests.workflows.test_booking import (
    STRICT_TERMS,
    awaiting_payment,
    bookings,
    pay,
    pay_with_the_holds_result,
    workflow_worker,
)
from tests.workflows.test_operator_actions import GRACE, confirmation_sent
from workflows.models import (
    UPDATE_CANCEL,
    UPDATE_RESEND_CONFIRMATION,
    BookingView,
    CancellationQuote,
    CancelRequest,
    ResendRequest,
)

HERE = Path(__file__).parent / "histories"

Run = Callable[[WorkflowEnvironment, World], Awaitable[WorkflowHandle]]


async def _happy(handle: WorkflowHandle) -> None:
    await awaiting_payment(handle)
    await pay(handle)


async def _cancel(handle: WorkflowHandle) -> None:
    await _happy(handle)
    await handle.execute_update(UPDATE_CANCEL, CancelRequest(), result_type=CancellationQuote)


async def _operator_actions(handle: WorkflowHandle) -> None:
    await _happy(handle)
    await confirmation_sent(handle)
    resend = ResendRequest(operator=GRACE, reason="the traveller lost the e-mail")
    await handle.execute_update(UPDATE_RESEND_CONFIRMATION, resend, result_type=BookingView)
    cancel = CancelRequest(reason="the hotel is closed", operator=GRACE)
    await handle.execute_update(UPDATE_CANCEL, cancel, result_type=CancellationQuote)


async def _release_unpaid(handle: WorkflowHandle) -> None:
    await awaiting_payment(handle)
    release = CancelRequest(reason="released by the traveller")
    await handle.execute_update(UPDATE_CANCEL, release, result_type=CancellationQuote)


def _driven(drive: Callable[[WorkflowHandle], Awaitable[None]] | None) -> Run:
    """A booking started, then driven by `drive` (if any), run to its end."""

    async def run(env: WorkflowEnvironment, world: World) -> WorkflowHandle:
        async with bookings(env, world) as running:
            handle = await running.start(check_in_days=5, nights=2)
            if drive is not None:
                await drive(handle)
            await handle.result()
        return handle

    return run


async def _payment_with_the_hold(env: WorkflowEnvironment, world: World) -> WorkflowHandle:
    """A booking whose payment comes in the workflow task of the hold's result, to its end."""
    async with bookings(env, world, workflows=False) as running:
        handle, _ = await pay_with_the_holds_result(env, running, world)
        async with workflow_worker(env):
            await handle.result()
    return handle


async def _decline_then_pay(env: WorkflowEnvironment, world: World) -> WorkflowHandle:
    """A booking whose first card is declined and whose second pays, to its end."""
    async with bookings(env, world) as running:
        handle = await running.start(check_in_days=5, nights=2)
        await awaiting_payment(handle)
        await pay(handle)
        world.decline = False
        await pay(handle)
        await handle.result()
    return handle


SCENARIOS: dict[str, tuple[World, Run]] = {
    "happy": (World(), _driven(_happy)),
    "decline": (World(decline=True), _driven(_happy)),
    "expiry": (World(), _driven(None)),
    "cancel": (World(), _driven(_cancel)),
    # Recorded after PATCH_PARALLEL_START: the catalogue lookup and the hold together.
    "happy-describe-and-hold": (World(), _driven(_happy)),
    # Recorded after PATCH_PAYMENT_WHILE_HOLDING: the payment accepted in the workflow task
    # that takes the hold's result, before the hold's result is applied.
    "payment-with-the-hold": (World(hold_gate=asyncio.Event()), _payment_with_the_hold),
    # Recorded after PATCH_HOTEL_TERMS: a hotel whose terms are not the defaults (a week's
    # free-cancellation window, 20% tax, other times), its booking cancelled for a fee.
    "cancel-by-the-hotels-terms": (World(terms=STRICT_TERMS), _driven(_cancel)),
    # Recorded after PATCH_OPERATOR_ACTIONS: an operator resends the confirmation, then
    # cancels the booking; both name the operator and the reason.
    "operator-actions": (World(), _driven(_operator_actions)),
    # Recorded after PATCH_RELEASE_UNPAID: the traveller gives the room up before paying.
    "release-unpaid": (World(), _driven(_release_unpaid)),
    # Recorded after PATCH_RECEIPT_DETAILS: the receipt and the cancellation note name the
    # room, the card and the VAT rate.
    "receipt-details": (World(), _driven(_cancel)),
    # Recorded after PATCH_FAILURE_EMAIL: a booking nobody pays for expires, and its
    # traveller is told by e-mail.
    "expiry-emailed": (World(), _driven(None)),
    # Recorded after PATCH_DECLINE_KEEPS_HOLD: the first card is declined, the room kept,
    # and another card pays.
    "decline-then-pay": (World(decline=True), _decline_then_pay),
    # Recorded after PATCH_RECEIPT_WITH_CAPTURE: the receipt is rendered and e-mailed while
    # the payment is captured; then the booking is cancelled.
    "receipt-with-capture": (World(), _driven(_cancel)),
    # Recorded after PATCH_EVERY_EARLIER_CHANGE: every change above under one marker; an
    # operator resends the confirmation, then cancels the booking.
    "every-earlier-change": (World(), _driven(_operator_actions)),
}


async def record(names: list[str]) -> None:
    """Run each scenario named (every one if none is) to its end and save its history."""
    for name in names or list(SCENARIOS):
        world, run = SCENARIOS[name]
        env = await start_time_skipping()
        try:
            handle = await run(env, world)
            history = await handle.fetch_history()
        finally:
            await env.shutdown()
        document = {"workflowId": handle.id, "history": json.loads(history.to_json())}
        (HERE / f"{name}.json").write_text(json.dumps(document, indent=1) + "\n")
        print(f"recorded {name}: {len(history.events)} events")


if __name__ == "__main__":
    asyncio.run(record(sys.argv[1:]))
    sys.stdout.flush()
    os._exit(0)
