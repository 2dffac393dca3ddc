"""The booking saga: hold, wait for payment, authorise, confirm, capture, receipt, e-mail.

Business failures (sold out, declined card, expired hold) are non-retryable and end the
booking FAILED (or EXPIRED) after compensating in reverse order: void, then release.
Infrastructure failures are retried by Temporal; every activity is idempotent, keyed by
the booking and the step. Once confirmed, the booking never fails because a PDF or an
e-mail is late: those steps retry until they succeed. Then the workflow waits for a
cancel, sends a reminder the day before check-in, and completes after check-out.

Deterministic code only: time from workflow.now(), no I/O, imports passed through.

One module because it is one workflow definition: the sandbox loads it per run, and its
steps share the booking's state (view, hold, card token, cancel request).
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import TypeVar

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities import models as act
    from temporal.names import BOOKING_STATUS, TaskQueue
    from workflows.models import (
        CHECK_IN_TIME,
        CHECK_OUT_TIME,
        FREE_CANCELLATION_HOURS,
        QUERY_CANCELLATION_QUOTE,
        QUERY_STATUS,
        TAX_RATE_PERCENT,
        UPDATE_CANCEL,
        UPDATE_SUBMIT_PAYMENT,
        WORKFLOW_TYPE,
        BookingRequest,
        BookingState,
        BookingView,
        CancellationQuote,
        CancelRequest,
        PaymentSubmission,
        Step,
        search_attributes,
    )

R = TypeVar("R")

REMINDER_LEAD = timedelta(days=1)
# Stop waiting for a card a little before the hold lapses, so that authorising and
# confirming still fit inside it.
PAYMENT_MARGIN = timedelta(seconds=30)

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

# Workflow changes, each guarded by `workflow.patched` so that running bookings (and the
# committed histories) replay the path they took.
PATCH_PARALLEL_START = "describe-and-hold-together"
"""The catalogue lookup and the hold run at the same time (a hold no longer waits for the
hotel's names); if either fails, a hold that was placed is released."""
PATCH_PAYMENT_WHILE_HOLDING = "payment-while-holding"
"""A payment may be submitted while the room is still being held (state STARTED): the card
token waits for the hold, and authorising starts once the room is held (or the booking
ends FAILED, and the payment's answer says so). A payment that reaches the booking in the
same workflow task as the hold's result is therefore accepted, in the order replay applies
the two (the payment first); before, it was refused as "not awaiting payment"."""

_FAILURE_TEXT = {
    act.SOLD_OUT: "That room is no longer available for your dates.",
    act.HOLD_EXPIRED: "Your hold on the room expired before the payment went through.",
}


_PAYMENT_OUTCOMES = (BookingState.CONFIRMED, BookingState.FAILED, BookingState.EXPIRED)


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


@workflow.defn(name=WORKFLOW_TYPE)
class BookingWorkflow:
    """One booking, from the hold to check-out (workflow id `booking-<booking_id>`)."""

    @workflow.init
    def __init__(self, request: BookingRequest) -> None:
        self.request = request
        self.view = BookingView(
            booking_id=request.booking_id,
            user_id=request.user_id,
            state=BookingState.STARTED,
            hotel_id=request.hotel_id,
            room_type_id=request.room_type_id,
            check_in=request.check_in,
            check_out=request.check_out,
            guests=request.guests,
        )
        # How long each step before confirmation may take, retries included.
        self.budget = (
            timedelta(seconds=request.step_budget_seconds)
            if request.step_budget_seconds
            else PRE_CONFIRMATION_BUDGET
        )
        self.card_token: str | None = None
        self.cancel_request: CancelRequest | None = None
        self.cancel_quote: CancellationQuote | None = None
        self.cancel_done = False
        self.hold: act.Hold | None = None
        self.hotel: act.HotelInfo | None = None
        # Whether a payment may come while the room is being held (PATCH_PAYMENT_WHILE_HOLDING).
        self.payment_while_holding = False
        # The history length of the workflow task in which the booking began to await payment.
        self.awaiting_payment_since: int | None = None

    # ---- the saga --------------------------------------------------------------------

    @workflow.run
    async def run(self, request: BookingRequest) -> BookingView:
        """Run the booking to its end state."""
        self._started()
        self.payment_while_holding = workflow.patched(PATCH_PAYMENT_WHILE_HOLDING)
        try:
            if workflow.patched(PATCH_PARALLEL_START):
                await self._describe_and_hold()
            else:
                await self._describe_hotel()
                await self._hold_room()
        except BusinessFailure as failure:
            return self._end(BookingState.FAILED, failure.reason)
        # Authorising needs the hold (and the receipt the names): only now may a payment go
        # ahead, though since PATCH_PAYMENT_WHILE_HOLDING it may have been submitted already.
        self._set_state(BookingState.AWAITING_PAYMENT)
        self.awaiting_payment_since = workflow.info().get_current_history_length()

        if not await self._wait_for_payment():
            await self._release_hold()
            return self._end(BookingState.EXPIRED, "The hold expired before a payment arrived.")

        self._set_state(BookingState.PROCESSING_PAYMENT)
        try:
            await self._pay_and_confirm()
        except BusinessFailure as failure:
            return self._end(BookingState.FAILED, failure.reason)

        self._set_state(BookingState.CONFIRMED)
        receipt = asyncio.create_task(self._send_receipt())
        await self._stay(receipt)
        await receipt
        if self.view.state != BookingState.CANCELLED:
            self._set_state(BookingState.COMPLETED)
        return self.view

    async def _describe_hotel(self) -> None:
        """Names for the receipt and e-mails, from the catalogue (not from the client)."""
        self.hotel = await self._step(
            act.DESCRIBE_HOTEL,
            act.HotelRef(hotel_id=self.request.hotel_id, room_type_id=self.request.room_type_id),
            act.HotelInfo,
            TaskQueue.RESERVATIONS,
            BOUNDED,
            self.budget,
        )
        self.view.hotel_name = self.hotel.hotel_name
        self.view.room_type_name = self.hotel.room_type_name

    async def _hold_room(self) -> None:
        request = self.request
        self.hold = await self._step(
            act.HOLD_ROOM,
            act.HoldInput(
                booking_id=request.booking_id,
                user_id=request.user_id,
                hotel_id=request.hotel_id,
                room_type_id=request.room_type_id,
                check_in=request.check_in,
                check_out=request.check_out,
                guests=request.guests,
            ),
            act.Hold,
            TaskQueue.RESERVATIONS,
            BOUNDED,
            self.budget,
        )
        self.view.hold_id = self.hold.hold_id
        self.view.hold_expires_at = self.hold.expires_at
        self.view.total = self.hold.total
        self.view.currency = self.hold.currency
        self.view.nights = [n.model_dump(mode="json") for n in self.hold.nights]
        self._done(Step.HELD)

    async def _describe_and_hold(self) -> None:
        """Both first steps at once; if either fails, release a hold that was placed."""
        described, held = await asyncio.gather(
            self._describe_hotel(), self._hold_room(), return_exceptions=True
        )
        failure = next((r for r in (described, held) if isinstance(r, BaseException)), None)
        if failure is None:
            return
        if self.hold is not None:
            await self._release_hold()
        raise failure

    async def _wait_for_payment(self) -> bool:
        assert self.hold is not None
        lifetime = self.hold.expires_at - workflow.now()
        # A short hold (tests, flash sales) keeps a quarter of itself as the margin.
        remaining = lifetime - min(PAYMENT_MARGIN, lifetime / 4)
        if remaining <= timedelta(0):
            return False
        try:
            await workflow.wait_condition(lambda: self.card_token is not None, timeout=remaining)
        except TimeoutError:
            return False
        return True

    async def _pay_and_confirm(self) -> None:
        assert self.hold is not None and self.card_token is not None
        request = self.request
        try:
            payment = await self._step(
                act.AUTHORIZE_PAYMENT,
                act.AuthorizeInput(
                    booking_id=request.booking_id,
                    user_id=request.user_id,
                    amount=self.hold.total,
                    currency=self.hold.currency,
                    card_token=self.card_token,
                ),
                act.Payment,
                TaskQueue.PAYMENTS,
                BOUNDED,
                self.budget,
            )
        except BusinessFailure as failure:
            await self._undo_payment_and_hold(failure)
            raise
        self.view.payment_status = payment.status
        self._done(Step.PAID)

        try:
            reservation = await self._step(
                act.CONFIRM_RESERVATION,
                act.HoldRef(hold_id=self.hold.hold_id),
                act.Reservation,
                TaskQueue.RESERVATIONS,
                BOUNDED,
                self.budget,
            )
        except BusinessFailure as failure:
            await self._undo_payment_and_hold(failure)
            raise
        self.view.reservation_id = reservation.reservation_id
        self.view.confirmation_code = reservation.confirmation_code
        self._done(Step.CONFIRMED)

        captured = await self._step(
            act.CAPTURE_PAYMENT,
            act.PaymentRef(booking_id=request.booking_id),
            act.Payment,
            TaskQueue.PAYMENTS,
            FOREVER,
        )
        self.view.payment_status = captured.status
        self.view.captured = captured.captured
        self._done(Step.CAPTURED)

    async def _send_receipt(self) -> None:
        document = await self._step(
            act.RENDER_DOCUMENT,
            act.DocumentInput(
                template="receipt",
                owner_id=self.request.user_id,
                key=f"booking-{self.request.booking_id}-receipt",
                data=self._document_data(),
            ),
            act.Document,
            TaskQueue.DOCUMENTS,
            FOREVER,
        )
        self.view.receipt_document_id = document.document_id
        self._done(Step.RECEIPT)
        await self._email(
            "booking-confirmed",
            "confirmed",
            [act.Attachment(document_id=document.document_id, filename="receipt.pdf")],
        )
        self._done(Step.EMAILED)

    async def _stay(self, receipt: asyncio.Task[None]) -> None:
        """After confirmation: a reminder before check-in, a cancel at any time before it."""
        check_in_at = datetime.combine(self.request.check_in, CHECK_IN_TIME)
        check_out_at = datetime.combine(self.request.check_out, CHECK_OUT_TIME)
        remind_at = check_in_at - REMINDER_LEAD
        # A booking made within a day of check-in gets its confirmation, not a reminder.
        wants_reminder = workflow.now() < remind_at
        if await self._until(remind_at):
            await self._cancel(receipt)
            return
        if wants_reminder:
            await self._email("booking-reminder", "reminder", [])
            self._done(Step.REMINDED)
        if await self._until(check_out_at):
            await self._cancel(receipt)

    async def _until(self, moment: datetime) -> bool:
        """Wait until `moment`; True if a cancel arrived first."""
        remaining = moment - workflow.now()
        if remaining <= timedelta(0):
            return self.cancel_request is not None
        try:
            await workflow.wait_condition(
                lambda: self.cancel_request is not None, timeout=remaining
            )
        except TimeoutError:
            return False
        return True

    async def _cancel(self, receipt: asyncio.Task[None]) -> None:
        quote = self.cancel_quote
        assert quote is not None
        request = self.request
        if quote.refund > 0:
            payment = await self._step(
                act.REFUND_PAYMENT,
                act.RefundInput(
                    booking_id=request.booking_id, amount=quote.refund, refund_id="cancel"
                ),
                act.Payment,
                TaskQueue.PAYMENTS,
                FOREVER,
            )
            self.view.payment_status = payment.status
            self.view.refunded = payment.refunded
            self._done(Step.REFUNDED)
        assert self.view.reservation_id is not None
        await self._step(
            act.CANCEL_RESERVATION,
            act.ReservationRef(reservation_id=self.view.reservation_id),
            act.Done,
            TaskQueue.RESERVATIONS,
            FOREVER,
        )
        self._done(Step.RELEASED)
        self._set_state(BookingState.CANCELLED)
        self.cancel_done = True
        # The receipt goes out before the note that cancels it, never after.
        await receipt
        data = act.CancellationData(
            **self._document_data().model_dump(), refund=quote.refund, cancelled_at=workflow.now()
        )
        note = await self._step(
            act.RENDER_DOCUMENT,
            act.DocumentInput(
                template="cancellation",
                owner_id=request.user_id,
                key=f"booking-{request.booking_id}-cancellation",
                data=data,
            ),
            act.Document,
            TaskQueue.DOCUMENTS,
            FOREVER,
        )
        self.view.cancellation_document_id = note.document_id
        self._done(Step.CANCELLATION_NOTE)
        await self._email(
            "booking-cancelled",
            "cancelled",
            [act.Attachment(document_id=note.document_id, filename="cancellation.pdf")],
            refund=quote.refund,
        )
        self._done(Step.CANCELLATION_EMAILED)

    # ---- compensation --------------------------------------------------------------

    async def _undo_payment_and_hold(self, failure: BusinessFailure) -> None:
        """Compensate a payment step that failed: void, then release.

        The void comes regardless of what the step saw: the bank may have taken effect
        before its answer was lost, or may still be at work on an attempt that ran out of
        time. Payments records the void even with nothing to void yet, so an
        authorization that lands later is voided too.
        """
        await self._void_payment()
        await self._release_hold()
        failure.reason += " Nothing was charged."

    async def _void_payment(self) -> None:
        await self._step(
            act.VOID_PAYMENT,
            act.PaymentRef(booking_id=self.request.booking_id),
            act.Payment,
            TaskQueue.PAYMENTS,
            FOREVER,
        )
        self.view.payment_status = "voided"
        self._done(Step.VOIDED)

    async def _release_hold(self) -> None:
        assert self.hold is not None
        await self._step(
            act.RELEASE_HOLD,
            act.HoldRef(hold_id=self.hold.hold_id),
            act.Done,
            TaskQueue.RESERVATIONS,
            FOREVER,
        )
        self._done(Step.RELEASED)

    # ---- helpers -------------------------------------------------------------------

    async def _step(
        self,
        name: str,
        argument: object,
        result_type: type[R],
        queue: TaskQueue,
        retry: RetryPolicy,
        budget: timedelta | None = None,
    ) -> R:
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

    async def _email(
        self,
        template: str,
        event: str,
        attachments: list[act.Attachment],
        refund: int | None = None,
    ) -> None:
        await self._step(
            act.SEND_EMAIL,
            act.EmailInput(
                user_id=self.request.user_id,
                template=template,
                message_key=f"booking-{self.request.booking_id}-{event}",
                data=self._email_data(refund),
                attachments=attachments,
            ),
            act.Email,
            TaskQueue.NOTIFICATIONS,
            FOREVER,
        )

    def _document_data(self) -> act.ReceiptData:
        return act.ReceiptData(
            guest_name=self.request.guest_name,
            hotel_name=self.hotel.hotel_name if self.hotel else "",
            hotel_address=self.hotel.hotel_address if self.hotel else "",
            taxes=(self.view.total or 0) * TAX_RATE_PERCENT // (100 + TAX_RATE_PERCENT),
            check_in=self.request.check_in,
            check_out=self.request.check_out,
            nights=[act.DocumentNight.model_validate(n) for n in self.view.nights],
            total=self.view.total,
            currency=self.view.currency,
            confirmation_code=self.view.confirmation_code,
            payment_reference=f"booking-{self.request.booking_id}",
        )

    def _email_data(self, refund: int | None = None) -> act.MailData:
        return act.MailData(
            hotel_name=self.hotel.hotel_name if self.hotel else "",
            check_in=self.request.check_in,
            check_out=self.request.check_out,
            confirmation_code=self.view.confirmation_code,
            total=self.view.total,
            currency=self.view.currency,
            refund=refund,
            reason=self.view.failure_reason,
        )

    def _done(self, step: Step) -> None:
        if step not in self.view.steps:
            self.view.steps.append(step)
            self.view.step_times[step] = workflow.now()
        self.view.updated_at = workflow.now()

    def _started(self) -> None:
        """The first state. Its search attributes need no upsert if the starter set them,
        as the website does (before PATCH_PARALLEL_START they were upserted anyway)."""
        if workflow.patched(PATCH_PARALLEL_START):
            given = workflow.info().typed_search_attributes
            if given.get(BOOKING_STATUS) == BookingState.STARTED.value:
                self._set_state(BookingState.STARTED, upsert=False)
                return
        self._set_state(BookingState.STARTED)

    def _set_state(self, state: BookingState, *, upsert: bool = True) -> None:
        self.view.state = state
        self.view.updated_at = workflow.now()
        if upsert:
            pairs = search_attributes(self.request, state)
            workflow.upsert_search_attributes([p.key.value_set(p.value) for p in pairs])

    def _end(self, state: BookingState, reason: str) -> BookingView:
        self.view.failure_reason = reason
        self._set_state(state)
        return self.view

    def _quote(self) -> CancellationQuote:
        view = self.view
        currency = view.currency or ""
        if view.state != BookingState.CONFIRMED or self.cancel_done:
            return CancellationQuote(
                cancellable=False, refund=0, fee=0, currency=currency, why_not=self._why_not()
            )
        check_in_at = datetime.combine(self.request.check_in, CHECK_IN_TIME)
        if workflow.now() >= check_in_at:
            return CancellationQuote(
                cancellable=False,
                refund=0,
                fee=0,
                currency=currency,
                why_not="The stay has begun; it can no longer be cancelled.",
            )
        free_until = check_in_at - timedelta(hours=FREE_CANCELLATION_HOURS)
        paid = view.total or 0
        fee = 0 if workflow.now() <= free_until else (view.nights[0]["price"] if view.nights else 0)
        return CancellationQuote(
            cancellable=True, refund=paid - fee, fee=fee, currency=currency, free_until=free_until
        )

    def _why_not(self) -> str:
        if self.cancel_done or self.cancel_request is not None:
            return "The booking is already cancelled."
        return f"Only a confirmed booking can be cancelled (this one is {self.view.state.value})."

    # ---- updates and queries -------------------------------------------------------

    @workflow.update(name=UPDATE_SUBMIT_PAYMENT)
    async def submit_payment(self, payment: PaymentSubmission) -> BookingView:
        """Take the card token; answers once the payment is processed (or has failed)."""
        self.card_token = payment.card_token
        await workflow.wait_condition(lambda: self.view.state in _PAYMENT_OUTCOMES)
        return self.view

    @submit_payment.validator
    def _validate_payment(self, payment: PaymentSubmission) -> None:
        if self.card_token is not None:
            raise ValueError("A payment was already submitted for this booking.")
        state = self.view.state
        holding = state == BookingState.STARTED and self.payment_while_holding
        if state != BookingState.AWAITING_PAYMENT and not holding:
            raise ValueError(f"This booking is not awaiting payment (it is {state.value}).")
        if self.awaiting_payment_since == workflow.info().get_current_history_length():
            # The hold's result was applied earlier in this same workflow task. Accepting now
            # would record the acceptance after the AWAITING_PAYMENT upsert, but replay hands
            # a workflow task's updates to the workflow before its activity results, so it
            # would accept first and fail on that history. Refused, nothing is recorded; the
            # same payment submitted again is accepted in a later task.
            raise ValueError("This booking was just held; please submit the payment again.")
        # The model's own validation refused a malformed token before we got here.

    @workflow.update(name=UPDATE_CANCEL)
    async def cancel(self, request: CancelRequest) -> CancellationQuote:
        """Cancel a confirmed booking by the policy; answers with the refund once done."""
        self.cancel_quote = self._quote()
        self.cancel_request = request
        await workflow.wait_condition(lambda: self.cancel_done)
        return self.cancel_quote

    @cancel.validator
    def _validate_cancel(self, request: CancelRequest) -> None:
        if self.cancel_request is not None:
            raise ValueError("The booking is already being cancelled.")
        quote = self._quote()
        if not quote.cancellable:
            raise ValueError(quote.why_not or "This booking cannot be cancelled.")

    @workflow.query(name=QUERY_STATUS)
    def status(self) -> BookingView:
        """Where the booking is: state, steps, amounts, failure reason, documents."""
        return self.view

    @workflow.query(name=QUERY_CANCELLATION_QUOTE)
    def cancellation_quote(self) -> CancellationQuote:
        """What cancelling now would refund."""
        return self._quote()
