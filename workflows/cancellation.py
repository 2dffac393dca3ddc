"""The cancellation policy: what cancelling a booking now would refund, by the hotel's terms.

Free until the terms' window before check-in; later, the first night is kept; once the
stay has begun, no cancel. An unpaid booking may give its room up, for nothing. Pure and
deterministic: the workflow passes its time in.
"""

from __future__ import annotations

from datetime import datetime

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities import models as act
    from workflows.models import BookingState, BookingView, CancellationQuote


def quote(
    view: BookingView,
    terms: act.HotelTerms,
    now: datetime,
    *,
    requested: bool,
    done: bool,
    unpaid_release: bool = False,
) -> CancellationQuote:
    """What cancelling at `now` refunds; `requested` and `done` say where a cancel is;
    `unpaid_release`, that a booking awaiting payment may give its room up."""
    currency = view.currency or ""
    if unpaid_release and view.state == BookingState.AWAITING_PAYMENT and not requested:
        # Nothing was charged: releasing the room costs nothing and refunds nothing.
        return CancellationQuote(cancellable=True, refund=0, fee=0, currency=currency)
    if view.state != BookingState.CONFIRMED or done:
        if done or requested:
            why_not = "The booking is already cancelled."
        else:
            why_not = f"Only a confirmed booking can be cancelled (this one is {view.state.value})."
        return CancellationQuote(
            cancellable=False, refund=0, fee=0, currency=currency, why_not=why_not
        )
    if now >= terms.check_in_at(view.check_in):
        return CancellationQuote(
            cancellable=False,
            refund=0,
            fee=0,
            currency=currency,
            why_not="The stay has begun; it can no longer be cancelled.",
        )
    free_until = terms.free_until(view.check_in)
    paid = view.total or 0
    fee = 0 if now <= free_until else (view.nights[0]["price"] if view.nights else 0)
    return CancellationQuote(
        cancellable=True, refund=paid - fee, fee=fee, currency=currency, free_until=free_until
    )
