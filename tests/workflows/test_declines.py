"""A declined card keeps the room (PATCH_DECLINE_KEEPS_HOLD): the booking awaits another
card until its deadline; only the deadline or a release gives the room up. Before the
patch, a decline ended the booking."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from temporalio import workflow
from temporalio.worker import UnsandboxedWorkflowRunner

from activities import models as act
from tests.workflows.standins import World
from tests.workflows.test_booking import (
    awaiting_payment,
    bookings,
    pay,
    refusal,
    unstarted_booking,
    workflow_worker,
)
from workflows.models import (
    QUERY_CANCELLATION_QUOTE,
    UPDATE_CANCEL,
    BookingState,
    CancellationQuote,
    CancelRequest,
    Step,
)
from workflows.patches import PATCH_DECLINE_KEEPS_HOLD, PATCH_EVERY_EARLIER_CHANGE

FAILED_EMAIL = f"{act.SEND_EMAIL}:booking-failed"


async def test_a_declined_card_keeps_the_room_and_another_card_confirms(time_skipping_env):
    world = World(decline=True)
    async with bookings(time_skipping_env, world) as running:
        handle = await running.start()
        before = await awaiting_payment(handle)
        declined = await pay(handle)
        assert declined.state == BookingState.AWAITING_PAYMENT
        assert declined.declined_cards == 1
        assert declined.decline_reason == "Your card was declined."
        assert declined.failure_reason is None
        assert declined.pay_by == before.pay_by
        assert world.holds[declined.booking_id] == "held"
        world.decline = False
        view = await pay(handle)
    assert view.state == BookingState.CONFIRMED
    assert world.attempts == [1, 2]
    assert act.VOID_PAYMENT not in world.calls and act.RELEASE_HOLD not in world.calls
    assert world.effects["authorization"] == 1 and world.effects["capture"] == 1


async def test_after_a_decline_the_deadline_voids_and_releases_the_room(time_skipping_env):
    world = World(decline=True, hold_ttl=timedelta(minutes=15))
    async with bookings(time_skipping_env, world) as running:
        handle = await running.start()
        before = await awaiting_payment(handle)
        await pay(handle)
        view = await handle.result()
    assert view.state == BookingState.EXPIRED
    assert view.pay_by == before.pay_by
    assert view.updated_at is not None and before.pay_by is not None
    assert view.updated_at >= before.pay_by
    # Void, release, then the traveller is told by e-mail (PATCH_FAILURE_EMAIL).
    assert world.calls[-3:] == [act.VOID_PAYMENT, act.RELEASE_HOLD, FAILED_EMAIL]
    assert world.holds[view.booking_id] == "released"
    assert Step.VOIDED in view.steps and Step.RELEASED in view.steps


async def test_after_a_decline_the_traveller_may_release_the_room(time_skipping_env):
    world = World(decline=True)
    async with bookings(time_skipping_env, world) as running:
        handle = await running.start()
        await awaiting_payment(handle)
        await pay(handle)
        quote = await handle.query(QUERY_CANCELLATION_QUOTE, result_type=CancellationQuote)
        assert quote.cancellable
        await handle.execute_update(UPDATE_CANCEL, CancelRequest(), result_type=CancellationQuote)
        view = await handle.result()
    assert view.state == BookingState.CANCELLED
    assert world.calls[-2:] == [act.VOID_PAYMENT, act.RELEASE_HOLD]


def test_a_new_card_is_taken_once_the_declined_one_is_cleared(monkeypatch):
    booking = unstarted_booking()
    booking.view.state = BookingState.AWAITING_PAYMENT
    booking.awaiting_payment_since = 5
    booking.card_token = "tok_declined"
    assert "already submitted" in (refusal(booking, 9, monkeypatch) or "")
    booking._declined("Your card was declined.")
    assert refusal(booking, 9, monkeypatch) is None


@pytest.fixture
def unpatched(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """New bookings take the path from before PATCH_DECLINE_KEEPS_HOLD, and so from before
    PATCH_EVERY_EARLIER_CHANGE (the workflow must then run unsandboxed, so that it sees this
    `workflow.patched`)."""
    patched = workflow.patched
    before = {PATCH_DECLINE_KEEPS_HOLD, PATCH_EVERY_EARLIER_CHANGE}
    monkeypatch.setattr(
        workflow, "patched", lambda patch_id: patch_id not in before and patched(patch_id)
    )
    yield


async def test_before_the_patch_a_decline_voids_releases_and_fails(time_skipping_env, unpatched):
    world = World(decline=True)
    async with (
        bookings(time_skipping_env, world, workflows=False) as running,
        workflow_worker(time_skipping_env, workflow_runner=UnsandboxedWorkflowRunner()),
    ):
        handle = await running.start()
        await awaiting_payment(handle)
        view = await pay(handle)
    assert view.state == BookingState.FAILED
    assert "declined" in (view.failure_reason or "")
    assert "Nothing was charged" in (view.failure_reason or "")
    assert view.declined_cards == 0
    assert world.calls.index(act.VOID_PAYMENT) < world.calls.index(act.RELEASE_HOLD)
    assert act.CONFIRM_RESERVATION not in world.calls
    assert world.holds[view.booking_id] == "released"
    assert Step.RELEASED in view.steps
