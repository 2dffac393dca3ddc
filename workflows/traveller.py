"""What a traveller may do to a running booking, and what anyone may ask of it: the
updates (pay, cancel or release) and queries (status, cancellation quote) of
`BookingWorkflow`, with their validators. Deterministic code only, like the workflow it is
mixed into; the state they read and change is the workflow's own.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from workflows.models import (
        QUERY_CANCELLATION_QUOTE,
        QUERY_STATUS,
        UPDATE_CANCEL,
        UPDATE_SUBMIT_PAYMENT,
        BookingState,
        BookingView,
        CancellationQuote,
        CancelRequest,
        Operator,
        OperatorActionKind,
        PaymentSubmission,
    )
    from workflows.patches import PATCH_OPERATOR_ACTIONS

_PAYMENT_OUTCOMES = (BookingState.CONFIRMED, BookingState.FAILED, BookingState.EXPIRED)


class TravellerActions:
    """Mixed into BookingWorkflow: the traveller's updates and the queries."""

    view: BookingView
    card_token: str | None
    cancel_request: CancelRequest | None
    cancel_quote: CancellationQuote | None
    cancel_done: bool
    payment_while_holding: bool
    awaiting_payment_since: int | None

    if TYPE_CHECKING:  # the workflow's own, and OperatorActions'

        def _quote(self) -> CancellationQuote: ...

        def _patched(self, patch: str) -> bool: ...

        def _operator_did(
            self, kind: OperatorActionKind, operator: Operator, reason: str
        ) -> None: ...

    @workflow.update(name=UPDATE_SUBMIT_PAYMENT)
    async def submit_payment(self, payment: PaymentSubmission) -> BookingView:
        """Take the card token; answers once the payment is processed, has failed, or (since
        PATCH_DECLINE_KEEPS_HOLD) was declined with the room kept for another card."""
        self.card_token = payment.card_token
        declined = self.view.declined_cards
        await workflow.wait_condition(
            lambda: self.view.state in _PAYMENT_OUTCOMES or self.view.declined_cards > declined
        )
        return self.view

    @submit_payment.validator
    def _validate_payment(self, payment: PaymentSubmission) -> None:
        if self.card_token is not None:
            raise ValueError("A payment was already submitted for this booking.")
        if self.cancel_request is not None:
            raise ValueError("This booking's room is being released.")
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
        """Cancel a confirmed booking by the policy, or (since PATCH_RELEASE_UNPAID) release
        an unpaid one's room; answers with the refund once done."""
        self.cancel_quote = self._quote()
        self.cancel_request = request
        if request.operator is not None and self._patched(PATCH_OPERATOR_ACTIONS):
            self._operator_did(OperatorActionKind.CANCEL, request.operator, request.reason)
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
