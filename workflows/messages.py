"""What the booking's documents and e-mails say: the data their templates are filled with,
typed by the PDF and Users services' own models, so a field a template does not take (or
one it needs and lacks) fails a test, not a confirmed booking.

Built inside the workflow (deterministic, no I/O) from the booking's request and view.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities import models as act
    from workflows.models import BookingRequest, BookingView


def receipt_data(
    request: BookingRequest,
    view: BookingView,
    hotel: act.HotelInfo | None,
    terms: act.HotelTerms,
    details: bool = False,
) -> act.ReceiptData:
    """What the receipt shows of a booking; with `details` (PATCH_RECEIPT_DETAILS), also
    the room type, the card paid with and the VAT rate."""
    extra: dict[str, Any] = {}
    if details:
        extra = {
            "room_type_name": hotel.room_type_name if hotel else None,
            "tax_rate_percent": terms.tax_rate_percent,
            "card_brand": view.card_brand,
            "card_last4": view.card_last4,
        }
    return act.ReceiptData(
        **extra,
        guest_name=request.guest_name,
        hotel_name=hotel.hotel_name if hotel else "",
        hotel_address=hotel.hotel_address if hotel else "",
        taxes=terms.tax_in(view.total or 0),
        check_in=request.check_in,
        check_out=request.check_out,
        nights=[act.DocumentNight.model_validate(n) for n in view.nights],
        total=view.total,
        currency=view.currency,
        confirmation_code=view.confirmation_code,
        payment_reference=f"booking-{request.booking_id}",
    )


def cancellation_data(
    receipt: act.ReceiptData, refund: int, cancelled_at: datetime
) -> act.CancellationData:
    """What the cancellation note shows: the receipt's, the refund and when."""
    return act.CancellationData(**receipt.model_dump(), refund=refund, cancelled_at=cancelled_at)


def email_data(
    request: BookingRequest,
    view: BookingView,
    hotel: act.HotelInfo | None,
    refund: int | None = None,
    details: bool = False,
) -> act.MailData:
    """What the booking's e-mails say of it; with `details` (PATCH_RECEIPT_DETAILS), also
    the room, the hotel's address, the cancellation policy and the booking's id for a link."""
    extra: dict[str, Any] = {}
    reason = view.failure_reason
    if details:
        extra = {
            "booking_id": request.booking_id,
            "room_type_name": hotel.room_type_name if hotel else None,
            "hotel_address": hotel.hotel_address if hotel else None,
            "free_cancellation_until": view.free_cancellation_until,
            "late_cancellation_fee": view.late_cancellation_fee,
        }
        # The failure e-mail says that nothing was charged in words of its own.
        reason = reason.removesuffix(" Nothing was charged.") if reason else reason
    return act.MailData(
        **extra,
        hotel_name=hotel.hotel_name if hotel else "",
        check_in=request.check_in,
        check_out=request.check_out,
        confirmation_code=view.confirmation_code,
        total=view.total,
        currency=view.currency,
        refund=refund,
        reason=reason,
    )
