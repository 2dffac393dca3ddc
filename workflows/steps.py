"""The booking saga's steps: each one activity, typed in and out, with its retry policy.

A step that fails for a reason retrying cannot fix raises `BusinessFailure` with the
traveller's text; the workflow (workflows/booking.py) decides what that ends or undoes.
Steps before confirmation get a budget and bounded retries (the traveller is waiting);
compensations and the steps after confirmation retry until they succeed.

Deterministic code only, run inside the workflow sandbox: imports are passed through.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TypeVar

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities import models as act
    from temporal.names import TaskQueue
    from workflows.models import BookingRequest

R = TypeVar("R")

ACTIVITY_TIMEOUT = timedelta(seconds=20)
# Activities heartbeat while a service call is outstanding: a worker killed mid-call is
# noticed after this long, not after the whole attempt's timeout.
HEARTBEAT_TIMEOUT = timedelta(seconds=8)
# Before confirmation a step may not retry forever: the traveller is waiting.
BOUNDED = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=10),
    non_retryable_error_types=[act.BAD_REQUEST],
)
# Compensation and post-confirmation steps retry until they succeed.
FOREVER = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=60),
    maximum_attempts=0,
)
PRE_CONFIRMATION_BUDGET = timedelta(minutes=2)
"""How long each step before confirmation may take, retries included, unless the booking
says otherwise."""

_FAILURE_TEXT = {
    act.SOLD_OUT: "That room is no longer available for your dates.",
    act.HOLD_EXPIRED: "Your hold on the room expired before the payment went through.",
}


class BusinessFailure(Exception):
    """A step failed for a reason retrying cannot fix; carries the traveller's text."""

    def __init__(self, kind: str, reason: str) -> None:
        super().__init__(reason)
        self.kind = kind
        self.reason = reason


def _business_failure(error: ActivityError) -> BusinessFailure | None:
    cause = error.cause
    if isinstance(cause, ApplicationError) and cause.non_retryable:
        kind = cause.type or "Failed"
        text = _FAILURE_TEXT.get(kind) or cause.message or "The booking could not be completed."
        return BusinessFailure(kind, text)
    return None


async def step(
    name: str,
    argument: object,
    result_type: type[R],
    queue: TaskQueue,
    retry: RetryPolicy,
    budget: timedelta | None = None,
) -> R:
    """Run one activity; a failure it gives up on is a `BusinessFailure`."""
    try:
        result: R = await workflow.execute_activity(
            name,
            argument,
            result_type=result_type,
            task_queue=queue,
            start_to_close_timeout=ACTIVITY_TIMEOUT,
            heartbeat_timeout=HEARTBEAT_TIMEOUT,
            schedule_to_close_timeout=budget,
            retry_policy=retry,
        )
        return result
    except ActivityError as error:
        failure = _business_failure(error)
        if failure is not None:
            raise failure from None
        # Retries ran out (only bounded steps can): to the traveller, a failure too.
        raise BusinessFailure(
            "Unavailable", "We could not complete the booking right now; please try again."
        ) from None


# ---- before confirmation: bounded by the step's budget -----------------------------


async def describe_hotel(request: BookingRequest, budget: timedelta) -> act.HotelInfo:
    """Names for the receipt and e-mails, from the catalogue (not from the client)."""
    ref = act.HotelRef(hotel_id=request.hotel_id, room_type_id=request.room_type_id)
    return await step(
        act.DESCRIBE_HOTEL, ref, act.HotelInfo, TaskQueue.RESERVATIONS, BOUNDED, budget
    )


async def hold_room(request: BookingRequest, budget: timedelta) -> act.Hold:
    """1. Hold one room for every night of the stay; the hold comes with the hotel's terms."""
    hold = act.HoldInput(
        booking_id=request.booking_id,
        user_id=request.user_id,
        hotel_id=request.hotel_id,
        room_type_id=request.room_type_id,
        check_in=request.check_in,
        check_out=request.check_out,
        guests=request.guests,
    )
    return await step(act.HOLD_ROOM, hold, act.Hold, TaskQueue.RESERVATIONS, BOUNDED, budget)


async def authorize_payment(
    request: BookingRequest, hold: act.Hold, card_token: str, budget: timedelta, attempt: int = 1
) -> act.Payment:
    """3. Authorise the hold's total on the card token, as the booking's `attempt`-th card."""
    payment = act.AuthorizeInput(
        booking_id=request.booking_id,
        user_id=request.user_id,
        amount=hold.total,
        currency=hold.currency,
        card_token=card_token,
        attempt=attempt,
    )
    return await step(
        act.AUTHORIZE_PAYMENT, payment, act.Payment, TaskQueue.PAYMENTS, BOUNDED, budget
    )


async def confirm_reservation(hold: act.Hold, budget: timedelta) -> act.Reservation:
    """4. Turn the hold into a reservation."""
    ref = act.HoldRef(hold_id=hold.hold_id)
    return await step(
        act.CONFIRM_RESERVATION, ref, act.Reservation, TaskQueue.RESERVATIONS, BOUNDED, budget
    )


# ---- after confirmation: retried until they succeed --------------------------------


async def capture_payment(booking_id: str) -> act.Payment:
    """5. Capture the authorised amount."""
    ref = act.PaymentRef(booking_id=booking_id)
    return await step(act.CAPTURE_PAYMENT, ref, act.Payment, TaskQueue.PAYMENTS, FOREVER)


async def render_document(
    request: BookingRequest, template: act.DocumentTemplate, data: act.ReceiptData
) -> act.Document:
    """6. Render a PDF of the booking (the receipt, a cancellation note), once per template."""
    document = act.DocumentInput(
        template=template,
        owner_id=request.user_id,
        key=f"booking-{request.booking_id}-{template}",
        data=data,
    )
    return await step(act.RENDER_DOCUMENT, document, act.Document, TaskQueue.DOCUMENTS, FOREVER)


async def send_email(
    request: BookingRequest,
    template: act.EmailTemplate,
    event: str,
    data: act.MailData,
    attachments: list[act.Attachment],
) -> act.Email:
    """7. E-mail the traveller (confirmation, reminder, cancellation), once per event."""
    email = act.EmailInput(
        user_id=request.user_id,
        template=template,
        message_key=f"booking-{request.booking_id}-{event}",
        data=data,
        attachments=attachments,
    )
    return await step(act.SEND_EMAIL, email, act.Email, TaskQueue.NOTIFICATIONS, FOREVER)


async def refund_payment(booking_id: str, amount: int) -> act.Payment:
    """Refund what a cancellation gives back (once: the refund is keyed `cancel`)."""
    refund = act.RefundInput(booking_id=booking_id, amount=amount, refund_id="cancel")
    return await step(act.REFUND_PAYMENT, refund, act.Payment, TaskQueue.PAYMENTS, FOREVER)


async def cancel_reservation(reservation_id: str) -> None:
    """Cancel a confirmed reservation, its nights back to inventory."""
    ref = act.ReservationRef(reservation_id=reservation_id)
    await step(act.CANCEL_RESERVATION, ref, act.Done, TaskQueue.RESERVATIONS, FOREVER)


# ---- compensations: retried until they succeed --------------------------------------


async def void_payment(booking_id: str) -> None:
    """Void the booking's payment, whatever the authorisation's step saw (a fence)."""
    ref = act.PaymentRef(booking_id=booking_id)
    await step(act.VOID_PAYMENT, ref, act.Payment, TaskQueue.PAYMENTS, FOREVER)


async def release_hold(hold: act.Hold) -> None:
    """Give the held nights back."""
    ref = act.HoldRef(hold_id=hold.hold_id)
    await step(act.RELEASE_HOLD, ref, act.Done, TaskQueue.RESERVATIONS, FOREVER)
