"""What operators do to a booking: cancel for a traveller, resend the confirmation; each
kept with who did it and why, in the workflow's history and in the status view."""

from __future__ import annotations

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError

from temporal.converter import DATA_CONVERTER
from tests.support.harness import eventually
from tests.workflows.standins import World
from tests.workflows.test_booking import awaiting_payment, bookings, pay, status
from workflows.models import (
    UPDATE_CANCEL,
    UPDATE_RESEND_CONFIRMATION,
    BookingState,
    BookingView,
    CancellationQuote,
    CancelRequest,
    Operator,
    OperatorActionKind,
    ResendRequest,
    Step,
)

GRACE = Operator(user_id="user-grace", name="Grace")


async def confirmation_sent(handle: WorkflowHandle) -> BookingView:
    """The booking once its confirmation e-mail has gone."""

    async def check() -> BookingView:
        view = await status(handle)
        assert Step.EMAILED in view.steps, view.steps
        return view

    return await eventually(check, timeout=20)


async def update_inputs(handle: WorkflowHandle, name: str) -> list[dict]:
    """The inputs of the accepted updates of that name, from the workflow's history."""
    found = []
    async for event in handle.fetch_history_events():
        if event.event_type != EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED:
            continue
        request = event.workflow_execution_update_accepted_event_attributes.accepted_request
        if request.input.name == name:
            (payload,) = request.input.args.payloads
            found.append(DATA_CONVERTER.payload_converter.from_payload(payload, dict))
    return found


async def test_an_operator_resends_the_confirmation_as_a_new_message(time_skipping_env):
    world = World()
    async with bookings(time_skipping_env, world) as running:
        handle = await running.start(check_in_days=10)
        await awaiting_payment(handle)
        await pay(handle)
        await confirmation_sent(handle)
        request = ResendRequest(operator=GRACE, reason="the traveller lost the e-mail")
        view = await handle.execute_update(
            UPDATE_RESEND_CONFIRMATION, request, result_type=BookingView
        )
        again = await handle.execute_update(
            UPDATE_RESEND_CONFIRMATION, request, result_type=BookingView
        )
        inputs = await update_inputs(handle, UPDATE_RESEND_CONFIRMATION)
    booking = view.booking_id
    resent = [f"booking-{booking}-confirmed-resent-1", f"booking-{booking}-confirmed-resent-2"]
    assert [k for k in world.emails if "resent" in k] == resent
    assert world.emails[resent[0]].template == "booking-confirmed"
    assert [a.document_id for a in world.emails[resent[0]].attachments] == [
        view.receipt_document_id
    ]
    (action,) = view.operator_actions
    assert action.action == OperatorActionKind.RESEND_CONFIRMATION
    assert action.operator == GRACE and action.reason == "the traveller lost the e-mail"
    assert len(again.operator_actions) == 2
    assert inputs[0]["operator"] == GRACE.model_dump() and inputs[0]["reason"] == request.reason


async def test_an_operators_cancel_refunds_by_the_policy_and_keeps_who_and_why(
    time_skipping_env,
):
    world = World()
    async with bookings(time_skipping_env, world) as running:
        handle = await running.start(check_in_days=10)
        await awaiting_payment(handle)
        await pay(handle)
        request = CancelRequest(reason="hotel flooded", operator=GRACE)
        quote = await handle.execute_update(UPDATE_CANCEL, request, result_type=CancellationQuote)
        view = await handle.result()
        inputs = await update_inputs(handle, UPDATE_CANCEL)
    assert view.state == BookingState.CANCELLED and view.refunded == quote.refund == 20000
    (action,) = view.operator_actions
    assert action.action == OperatorActionKind.CANCEL
    assert (action.operator, action.reason) == (GRACE, "hotel flooded")
    assert inputs == [{"reason": "hotel flooded", "operator": GRACE.model_dump()}]


async def test_a_travellers_cancel_records_no_operator(time_skipping_env):
    world = World()
    async with bookings(time_skipping_env, world) as running:
        handle = await running.start(check_in_days=10)
        await awaiting_payment(handle)
        await pay(handle)
        await handle.execute_update(UPDATE_CANCEL, CancelRequest(), result_type=CancellationQuote)
        view = await handle.result()
    assert view.state == BookingState.CANCELLED and view.operator_actions == []


async def test_a_confirmation_is_resent_only_once_sent_and_only_while_confirmed(
    time_skipping_env,
):
    world = World()
    request = ResendRequest(operator=GRACE, reason="asked by phone")
    async with bookings(time_skipping_env, world) as running:
        handle = await running.start(check_in_days=10)
        await awaiting_payment(handle)
        with pytest.raises(WorkflowUpdateFailedError) as unpaid:
            await handle.execute_update(UPDATE_RESEND_CONFIRMATION, request)
        assert "AWAITING_PAYMENT" in str(unpaid.value.cause)
        await pay(handle)
        await confirmation_sent(handle)
        await handle.execute_update(UPDATE_CANCEL, CancelRequest(), result_type=CancellationQuote)
        with pytest.raises(WorkflowUpdateFailedError):
            await handle.execute_update(UPDATE_RESEND_CONFIRMATION, request)
        view = await handle.result()
    assert view.operator_actions == []
    assert not [k for k in world.emails if "resent" in k]
