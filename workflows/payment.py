"""The booking saga's wait for a card: until the deadline the traveller is shown, which
stays the same after a declined card (PATCH_DECLINE_KEEPS_HOLD: the booking goes back to
waiting, the room kept). Mixed into `BookingWorkflow`, whose state it reads and changes;
deterministic code only.

Paying itself (`_pay_and_confirm`) stays in workflows/booking.py: the business failures
it catches must be the very classes the steps raise inside the workflow sandbox, which
the replay of a declined booking's history showed they are not from a mixin module.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities import models as act
    from workflows.models import BookingRequest, BookingState, BookingView, CancelRequest, Step

# Stop waiting for a card a little before the hold lapses, so that authorising and
# confirming still fit inside it.
PAYMENT_MARGIN = timedelta(seconds=30)


class PaymentSteps:
    """Mixed into BookingWorkflow: step 2 of the saga, and what a decline leaves."""

    request: BookingRequest
    view: BookingView
    hold: act.Hold | None
    budget: timedelta
    card_token: str | None
    cancel_request: CancelRequest | None
    decline_keeps_hold: bool
    awaiting_payment_since: int | None

    if TYPE_CHECKING:  # the workflow's own

        def _set_state(self, state: BookingState, *, upsert: bool = True) -> None: ...

        def _done(self, step: Step) -> None: ...

        async def _void_and_release(self) -> None: ...

    def _await_payment(self) -> None:
        self._set_state(BookingState.AWAITING_PAYMENT)
        self.awaiting_payment_since = workflow.info().get_current_history_length()

    async def _wait_for_payment(self) -> bool:
        assert self.hold is not None
        if self.view.pay_by is not None:  # another card after a decline: the same deadline
            remaining = self.view.pay_by - workflow.now()
        else:
            lifetime = self.hold.expires_at - workflow.now()
            # A short hold (tests, flash sales) keeps a quarter of itself as the margin.
            remaining = lifetime - min(PAYMENT_MARGIN, lifetime / 4)
        if remaining <= timedelta(0):
            return False
        # The deadline the traveller is shown is this one, not the hold's own expiry.
        self.view.pay_by = workflow.now() + remaining
        try:
            await workflow.wait_condition(
                lambda: self.card_token is not None or self.cancel_request is not None,
                timeout=remaining,
            )
        except TimeoutError:
            return False
        # A release (PATCH_RELEASE_UNPAID) ends the wait without a card.
        return self.card_token is not None

    def _declined(self, reason: str) -> None:
        """The bank declined the card: final for this attempt, the room kept for the next."""
        self.view.declined_cards += 1
        self.view.decline_reason = reason
        self.card_token = None
