"""The booking saga: hold, wait for payment, authorise, confirm, capture, receipt, e-mail.

Business failures (sold out, expired hold) are non-retryable and end the booking FAILED
(or EXPIRED) after compensating in reverse order: void, then release; a declined card
sends it back to awaiting another (PATCH_DECLINE_KEEPS_HOLD).
Infrastructure failures are retried by Temporal; every activity is idempotent, keyed by
the booking and the step. Once confirmed, the booking never fails because a PDF or an
e-mail is late: those steps retry until they succeed. Then the workflow waits for a
cancel, sends a reminder the day before check-in, and completes after check-out, by the
hotel's terms (which Reservations answers with the hold).

The steps themselves, one activity each, are in workflows/steps.py; this module is the
order they run in and the booking's state they share (view, hold, card token, cancel).
Deterministic code only: time from workflow.now(), no I/O, imports passed through.

Kept whole because it is the saga's order read top to bottom, as the design lists it, and
every committed history replays against it: moving steps out would scatter that order.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities import models as act
    from temporal.names import BOOKING_STATUS, TRACE_HEADER
    from workflows import cancellation, messages, metrics, steps
    from workflows.models import (
        WORKFLOW_TYPE,
        BookingRequest,
        BookingState,
        BookingView,
        CancellationQuote,
        CancelRequest,
        Step,
        outcome_details,
        search_attributes,
        trace_id_of,
    )
    from workflows.operations import OperatorActions
    from workflows.patches import (
        EARLIER_CHANGES,
        LEGACY_TERMS,
        PATCH_DECLINE_KEEPS_HOLD,
        PATCH_EVERY_EARLIER_CHANGE,
        PATCH_FAILURE_EMAIL,
        PATCH_HOTEL_TERMS,
        PATCH_PARALLEL_START,
        PATCH_PAYMENT_WHILE_HOLDING,
        PATCH_RECEIPT_DETAILS,
        PATCH_RECEIPT_WITH_CAPTURE,
        PATCH_RELEASE_UNPAID,
    )
    from workflows.payment import PaymentSteps
    from workflows.steps import PRE_CONFIRMATION_BUDGET, BusinessFailure
    from workflows.traveller import TravellerActions

REMINDER_LEAD = timedelta(days=1)


def _started_trace() -> str | None:
    """The trace the booking was started in, from the tracing header of its start (the
    same in every replay); None when it was started untraced. No command: it only shows
    in the status view."""
    payload = workflow.info().headers.get(TRACE_HEADER)
    if payload is None:
        return None
    try:
        carrier = workflow.payload_converter().from_payload(payload, dict)
    except Exception:
        # A header another tool wrote: the booking goes on without its trace id.
        return None
    return trace_id_of(carrier.get("traceparent")) if isinstance(carrier, dict) else None


@workflow.defn(name=WORKFLOW_TYPE)
class BookingWorkflow(PaymentSteps, TravellerActions, OperatorActions):
    """One booking, from the hold to check-out (workflow id `booking-<booking_id>`).
    Waiting for a card and paying are in `PaymentSteps`; its traveller's updates and
    queries are in `TravellerActions`, its operators' in `OperatorActions`."""

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
        # The hotel's terms: the hold's since PATCH_HOTEL_TERMS, once the room is held.
        self.terms = LEGACY_TERMS
        self.terms_from_hold = False
        # Whether a payment may come while the room is being held (PATCH_PAYMENT_WHILE_HOLDING).
        self.payment_while_holding = False
        # Whether the traveller may release the room while it awaits payment.
        self.release_unpaid = False
        # The history length of the workflow task in which the booking began to await payment.
        self.awaiting_payment_since: int | None = None
        # Whether a declined card keeps the room for another (PATCH_DECLINE_KEEPS_HOLD).
        self.decline_keeps_hold = False
        # Whether the booking takes every earlier change at once (asked at the first change).
        self.every_earlier_change: bool | None = None
        self.resending = False
        # Why the booking failed (the failing step's error type), for its metrics.
        self.failure_kind = ""
        # Whether documents and e-mails name the room, the card, the VAT rate, the address
        # and the policy, and link to the booking (PATCH_RECEIPT_DETAILS).
        self.details = False
        # Rendering and e-mailing the receipt, once started (PATCH_RECEIPT_WITH_CAPTURE
        # starts it with the capture).
        self.receipt: asyncio.Task[None] | None = None

    # ---- the saga --------------------------------------------------------------------

    @workflow.run
    async def run(self, request: BookingRequest) -> BookingView:
        """Run the booking to its end state; a booking that held a room and then failed or
        expired tells its traveller by e-mail (PATCH_FAILURE_EMAIL)."""
        view = await self._saga()
        if (
            view.state in (BookingState.FAILED, BookingState.EXPIRED)
            and Step.HELD in view.steps
            and self.hotel is not None
            and self._patched(PATCH_FAILURE_EMAIL)
        ):
            self.details = True
            await self._email("booking-failed", "failed", [])
            self._done(Step.FAILURE_EMAILED)
        return view

    async def _saga(self) -> BookingView:
        """The booking, by the design's numbered steps."""
        self.view.trace_id = _started_trace()
        self._started()
        self.payment_while_holding = self._patched(PATCH_PAYMENT_WHILE_HOLDING)
        self.terms_from_hold = self._patched(PATCH_HOTEL_TERMS)
        self.release_unpaid = self._patched(PATCH_RELEASE_UNPAID)
        self.decline_keeps_hold = self._patched(PATCH_DECLINE_KEEPS_HOLD)

        # 1. Hold the room (and look up the hotel's names for the receipt).
        try:
            if self._patched(PATCH_PARALLEL_START):
                await self._describe_and_hold()
            else:
                await self._describe_hotel()
                await self._hold_room()
        except BusinessFailure as failure:
            return self._end(BookingState.FAILED, failure.reason, failure.kind)

        # 2. Wait for the payment. Authorising needs the hold (and the receipt the names):
        # only now may it go ahead, though since PATCH_PAYMENT_WHILE_HOLDING the card token
        # may have been submitted already. 3. Authorise, 4. confirm, 5. capture; since
        # PATCH_DECLINE_KEEPS_HOLD a declined card sends the booking back to waiting.
        while True:
            self._await_payment()
            if not await self._wait_for_payment():
                # After a decline, the void fences off any attempt before the room goes.
                await (
                    self._void_and_release() if self.view.declined_cards else self._release_hold()
                )
                if self.cancel_request is not None:
                    return await self._released_unpaid()
                return self._end(BookingState.EXPIRED, "The hold expired before a payment arrived.")
            self._set_state(BookingState.PROCESSING_PAYMENT)
            try:
                if await self._pay_and_confirm():
                    break
            except BusinessFailure as failure:
                return self._end(BookingState.FAILED, failure.reason, failure.kind)
        self._set_state(BookingState.CONFIRMED)

        # 6. Render the receipt, 7. e-mail it (since PATCH_RECEIPT_WITH_CAPTURE under way
        # already); meanwhile the stay: a reminder, or a cancel.
        receipt = self.receipt or asyncio.create_task(self._send_receipt())
        await self._stay(receipt)
        await receipt
        if self.view.state != BookingState.CANCELLED:
            self._set_state(BookingState.COMPLETED)
        return self.view

    async def _describe_hotel(self) -> None:
        self.hotel = await steps.describe_hotel(self.request, self.budget)
        self.view.hotel_name = self.hotel.hotel_name
        self.view.room_type_name = self.hotel.room_type_name

    async def _hold_room(self) -> None:
        self.hold = await steps.hold_room(self.request, self.budget)
        if self.terms_from_hold:
            self.terms = self.hold.terms
        self.view.hold_id = self.hold.hold_id
        self.view.hold_expires_at = self.hold.expires_at
        self.view.total = self.hold.total
        self.view.currency = self.hold.currency
        self.view.nights = [n.model_dump(mode="json") for n in self.hold.nights]
        # The policy the traveller pays under, shown before paying (view only: no command).
        self.view.free_cancellation_until = self.terms.free_until(self.request.check_in)
        self.view.late_cancellation_fee = self.hold.nights[0].price if self.hold.nights else 0
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

    async def _pay_and_confirm(self) -> bool:
        """Pay and confirm; False if the card was declined and the room is kept for another."""
        assert self.hold is not None and self.card_token is not None
        try:
            try:
                payment = await steps.authorize_payment(
                    self.request,
                    self.hold,
                    self.card_token,
                    self.budget,
                    attempt=self.view.declined_cards + 1,
                )
            except BusinessFailure as failure:
                if self.decline_keeps_hold and failure.kind == act.PAYMENT_DECLINED:
                    self._declined(failure.reason)
                    return False
                raise
            self.view.payment_status = payment.status
            self.view.card_brand, self.view.card_last4 = payment.card_brand, payment.card_last4
            self._done(Step.PAID)
            reservation = await steps.confirm_reservation(self.hold, self.budget)
        except BusinessFailure as failure:
            await self._void_and_release()
            failure.reason += " Nothing was charged."
            raise
        self.view.reservation_id = reservation.reservation_id
        self.view.confirmation_code = reservation.confirmation_code
        self._done(Step.CONFIRMED)

        if self._patched(PATCH_RECEIPT_WITH_CAPTURE):
            self.receipt = asyncio.create_task(self._send_receipt())
        captured = await steps.capture_payment(self.request.booking_id)
        self.view.payment_status = captured.status
        self.view.captured = captured.captured
        self._done(Step.CAPTURED)
        return True

    async def _send_receipt(self) -> None:
        # The note of a cancellation says what the receipt said: both follow this choice.
        self.details = self._patched(PATCH_RECEIPT_DETAILS)
        document = await steps.render_document(self.request, "receipt", self._document_data())
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
        check_in_at = self.terms.check_in_at(self.request.check_in)
        check_out_at = self.terms.check_out_at(self.request.check_out)
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
        """Refund by the quote, give the nights back, then the note and its e-mail."""
        quote = self.cancel_quote
        assert quote is not None and self.view.reservation_id is not None
        request = self.request
        if quote.refund > 0:
            payment = await steps.refund_payment(request.booking_id, quote.refund)
            self.view.payment_status = payment.status
            self.view.refunded = payment.refunded
            self._done(Step.REFUNDED)
        await steps.cancel_reservation(self.view.reservation_id)
        self._done(Step.RELEASED)
        self._set_state(BookingState.CANCELLED)
        self.cancel_done = True
        # The receipt goes out before the note that cancels it, never after.
        await receipt
        data = messages.cancellation_data(self._document_data(), quote.refund, workflow.now())
        note = await steps.render_document(request, "cancellation", data)
        self.view.cancellation_document_id = note.document_id
        self._done(Step.CANCELLATION_NOTE)
        await self._email(
            "booking-cancelled",
            "cancelled",
            [act.Attachment(document_id=note.document_id, filename="cancellation.pdf")],
            refund=quote.refund,
        )
        self._done(Step.CANCELLATION_EMAILED)

    async def _released_unpaid(self) -> BookingView:
        """The traveller gave the room up before paying: its hold is released already."""
        self.cancel_done = True
        view = self._end(BookingState.CANCELLED, "You released the room. Nothing was charged.")
        # The release's update answers before the booking ends.
        await workflow.wait_condition(workflow.all_handlers_finished)
        return view

    # ---- compensation --------------------------------------------------------------

    async def _void_and_release(self) -> None:
        """Undo a payment step that failed: void, then release.

        The void comes regardless of what the step saw: the bank may have taken effect
        before its answer was lost, or may still be at work on an attempt that ran out of
        time. Payments records the void even with nothing to void yet, so an
        authorization that lands later is voided too.
        """
        await steps.void_payment(self.request.booking_id)
        self.view.payment_status = "voided"
        self._done(Step.VOIDED)
        metrics.compensated("void")
        await self._release_hold()

    async def _release_hold(self) -> None:
        assert self.hold is not None
        await steps.release_hold(self.hold)
        self._done(Step.RELEASED)
        metrics.compensated("release")

    # ---- helpers -------------------------------------------------------------------

    async def _email(
        self,
        template: act.EmailTemplate,
        event: str,
        attachments: list[act.Attachment],
        refund: int | None = None,
    ) -> None:
        data = messages.email_data(self.request, self.view, self.hotel, refund, self.details)
        await steps.send_email(self.request, template, event, data, attachments)

    def _document_data(self) -> act.ReceiptData:
        return messages.receipt_data(self.request, self.view, self.hotel, self.terms, self.details)

    def _patched(self, patch: str) -> bool:
        """Whether this booking takes the change `patch` (workflows/patches.py): all of them
        since PATCH_EVERY_EARLIER_CHANGE, under its one marker; before, each under its own."""
        if patch not in EARLIER_CHANGES:
            return workflow.patched(patch)
        if self.every_earlier_change is None:
            self.every_earlier_change = workflow.patched(PATCH_EVERY_EARLIER_CHANGE)
        return self.every_earlier_change or workflow.patched(patch)

    def _done(self, step: Step) -> None:
        if step not in self.view.steps:
            self.view.steps.append(step)
            self.view.step_times[step] = workflow.now()
        self.view.updated_at = workflow.now()

    def _started(self) -> None:
        """The first state. Its search attributes need no upsert if the starter set them,
        as the website does (before PATCH_PARALLEL_START they were upserted anyway)."""
        if self._patched(PATCH_PARALLEL_START):
            given = workflow.info().typed_search_attributes
            if given.get(BOOKING_STATUS) == BookingState.STARTED.value:
                self._set_state(BookingState.STARTED, upsert=False)
                return
        self._set_state(BookingState.STARTED)

    def _set_state(self, state: BookingState, *, upsert: bool = True) -> None:
        self.view.state = state
        self.view.updated_at = workflow.now()
        # What the Temporal UI shows as the workflow's current details (no command: every
        # history replays as before).
        workflow.set_current_details(outcome_details(self.view))
        metrics.state_entered(state, self.failure_kind)
        if upsert:
            pairs = search_attributes(self.request, state)
            workflow.upsert_search_attributes([p.key.value_set(p.value) for p in pairs])

    def _end(self, state: BookingState, reason: str, kind: str = "") -> BookingView:
        self.view.failure_reason = reason
        self.failure_kind = kind
        self._set_state(state)
        return self.view

    def _quote(self) -> CancellationQuote:
        return cancellation.quote(
            self.view,
            self.terms,
            workflow.now(),
            requested=self.cancel_request is not None,
            done=self.cancel_done,
            unpaid_release=self.release_unpaid and self.card_token is None,
        )
