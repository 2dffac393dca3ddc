"""The booking workflow's changes, each guarded by `workflow.patched` under these ids, so
that running bookings (and the committed histories) replay the path they took.

Never rename or remove one while a booking that took its old path may still be running.
"""

from __future__ import annotations

from datetime import time

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities import models as act

PATCH_PARALLEL_START = "describe-and-hold-together"
"""The catalogue lookup and the hold run at the same time (a hold no longer waits for the
hotel's names); if either fails, a hold that was placed is released."""
PATCH_PAYMENT_WHILE_HOLDING = "payment-while-holding"
"""A payment may be submitted while the room is still being held (state STARTED): the card
token waits for the hold, and authorising starts once the room is held (or the booking
ends FAILED, and the payment's answer says so). A payment that reaches the booking in the
same workflow task as the hold's result is therefore accepted, in the order replay applies
the two (the payment first); before, it was refused as "not awaiting payment"."""
PATCH_HOTEL_TERMS = "terms-from-the-hold"
"""The free-cancellation window, the tax on the receipt and the times a stay begins and
ends are the hotel's terms, as Reservations answers them with the hold; before, they were
the workflow's own constants (LEGACY_TERMS)."""

PATCH_OPERATOR_ACTIONS = "operator-actions"
"""An operator's cancel is kept in the status view (`operator_actions`: who and why); a
booking cancelled by an operator before this kept it only in the update's input."""

PATCH_RELEASE_UNPAID = "release-unpaid"
"""The traveller may give the room up while it awaits payment (the `cancel` update): the
hold is released and the booking ends CANCELLED, nothing charged; before, a booking could
be cancelled only once confirmed."""

PATCH_RECEIPT_DETAILS = "receipt-details"
"""The receipt and the cancellation note name the room type, the card paid with (brand and
last four) and the VAT rate of the tax the total includes; the e-mails name the room, the
hotel's address and the cancellation policy, and link to the booking's page. Before, they
had none of them."""

PATCH_FAILURE_EMAIL = "failure-email"
"""A booking that held a room and then failed or expired e-mails its traveller why (the
`booking-failed` template); before, only the booking's page said so."""
PATCH_DECLINE_KEEPS_HOLD = "decline-keeps-the-hold"
"""A declined card (declined, insufficient funds, expired, a token refused) no longer ends
the booking: it returns to AWAITING_PAYMENT with the reason in the view, and the traveller
may pay with another card (the next payment attempt) until the same `pay_by`; only that
deadline or a release gives the room up, voiding the booking's payment first. Before, the
booking ended FAILED, its payment voided and its hold released."""

PATCH_RECEIPT_WITH_CAPTURE = "receipt-with-capture"
"""The receipt is rendered and e-mailed while the payment is captured, as soon as the
reservation is confirmed (the receipt shows nothing the capture answers, and a capture
retries until it succeeds); before, the receipt waited for the capture, one step more
between a confirmed reservation and the e-mailed receipt."""

PATCH_EVERY_EARLIER_CHANGE = "every-earlier-change"
"""A booking takes every change above under this one marker (it is asked first; the others
only when it says no). The SDK writes each patch's marker with an upsert of the
`TemporalChangeVersion` search attribute, a visibility write each on the server: a
booking paid and e-mailed its receipt recorded seven; since, one. A booking started
before replays the changes it recorded one by one. Guard a change made after this one
with its own patch, as before."""

EARLIER_CHANGES = frozenset(
    {
        PATCH_PARALLEL_START,
        PATCH_PAYMENT_WHILE_HOLDING,
        PATCH_HOTEL_TERMS,
        PATCH_OPERATOR_ACTIONS,
        PATCH_RELEASE_UNPAID,
        PATCH_RECEIPT_DETAILS,
        PATCH_FAILURE_EMAIL,
        PATCH_DECLINE_KEEPS_HOLD,
        PATCH_RECEIPT_WITH_CAPTURE,
    }
)
"""The changes PATCH_EVERY_EARLIER_CHANGE stands for, and only those: a later change is
asked under its own id in every booking, whenever it started."""

LEGACY_TERMS = act.HotelTerms(
    free_cancellation_hours=48,
    tax_rate_percent=10,
    check_in_time=time(14, 0),
    check_out_time=time(11, 0),
)
"""The terms of bookings started before PATCH_HOTEL_TERMS, spelt out so that they stay
what those bookings were made under whatever Reservations' defaults become."""
