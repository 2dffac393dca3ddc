"""What the booking's documents and e-mails say: the data their templates are filled with.

Built inside the workflow (deterministic, no I/O) from the booking's request and view.
"""

from __future__ import annotations

from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities import models as act
    from workflows.models import BookingRequest, BookingView


def document_data(
    request: BookingRequest, view: BookingView, hotel: act.HotelInfo | None, terms: act.HotelTerms
) -> dict[str, Any]:
    """What the receipt and the cancellation note show of a booking."""
    return {
        "booking_id": request.booking_id,
        "hotel_id": request.hotel_id,
        "room_type_id": request.room_type_id,
        "guest_name": request.guest_name,
        "hotel_name": hotel.hotel_name if hotel else "",
        "hotel_address": hotel.hotel_address if hotel else "",
        "room_type_name": hotel.room_type_name if hotel else "",
        "taxes": terms.tax_in(view.total or 0),
        "check_in": request.check_in.isoformat(),
        "check_out": request.check_out.isoformat(),
        "guests": request.guests,
        "nights": view.nights,
        "total": view.total,
        "currency": view.currency,
        "confirmation_code": view.confirmation_code,
        "payment_reference": f"booking-{request.booking_id}",
    }


def email_data(
    request: BookingRequest, view: BookingView, hotel: act.HotelInfo | None
) -> dict[str, Any]:
    """What the booking's e-mails say of it."""
    return {
        "booking_id": request.booking_id,
        "hotel_id": request.hotel_id,
        "hotel_name": hotel.hotel_name if hotel else "",
        "check_in": request.check_in.isoformat(),
        "check_out": request.check_out.isoformat(),
        "confirmation_code": view.confirmation_code,
        "total": view.total,
        "currency": view.currency,
        "reason": view.failure_reason,
    }
