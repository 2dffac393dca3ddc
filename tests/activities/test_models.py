"""The documents' and e-mails' activity inputs hold the PDF and Users contracts' own data."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from pydantic import ValidationError

from activities import models as act

CHECK_IN = dt.date(2027, 5, 1)
RECEIPT = {
    "hotel_name": "Grand Hotel Paris",
    "hotel_address": "1 Rue de Rivoli",
    "guest_name": "Ada Lovelace",
    "check_in": CHECK_IN,
    "check_out": CHECK_IN + dt.timedelta(days=1),
    "nights": [{"night": CHECK_IN, "price": 10_000}],
    "taxes": 909,
    "total": 10_000,
    "currency": "EUR",
    "payment_reference": "booking-b1",
    "confirmation_code": "K7Q2ZP",
}


def _document(template: str, data: object) -> act.DocumentInput:
    return act.DocumentInput(template=template, owner_id="user-1", key="k", data=data)


def test_a_document_takes_its_own_templates_data():
    receipt = act.ReceiptData(**RECEIPT)
    note = act.CancellationData(**RECEIPT, refund=10_000, cancelled_at=dt.datetime.now(dt.UTC))
    assert type(_document("receipt", receipt).data) is act.ReceiptData
    assert type(_document("cancellation", note).data) is act.CancellationData
    with pytest.raises(ValidationError, match="cancellation takes CancellationData"):
        _document("cancellation", receipt)
    with pytest.raises(ValidationError, match="receipt takes ReceiptData"):
        _document("receipt", note)


def test_a_field_the_template_does_not_have_is_refused():
    with pytest.raises(ValidationError):
        act.ReceiptData(**RECEIPT, room_type_id=11)


def test_a_document_scheduled_with_the_earlier_untyped_data_still_reads():
    # What the workflow sent before: every field it knew, as JSON.
    earlier = {
        "template": "receipt",
        "owner_id": "user-1",
        "key": "booking-b1-receipt",
        "data": {
            **act.ReceiptData(**RECEIPT).model_dump(mode="json"),
            "booking_id": "b1",
            "hotel_id": 1,
            "room_type_id": 11,
            "room_type_name": "Double",
            "guests": 2,
        },
    }
    parsed = act.DocumentInput.model_validate_json(json.dumps(earlier))
    assert parsed.data == act.ReceiptData(**RECEIPT)


def test_an_email_missing_what_its_template_needs_is_refused():
    data = act.MailData(
        hotel_name="Grand Hotel Paris",
        check_in=CHECK_IN,
        check_out=CHECK_IN + dt.timedelta(days=1),
        confirmation_code="K7Q2ZP",
        total=10_000,
        currency="EUR",
    )
    confirmed = act.EmailInput(
        user_id="user-1",
        template="booking-confirmed",
        message_key="booking-b1-confirmed",
        data=data,
    )
    assert confirmed.data.total == 10_000
    with pytest.raises(ValidationError, match="booking-cancelled needs refund"):
        act.EmailInput(
            user_id="user-1",
            template="booking-cancelled",
            message_key="booking-b1-cancelled",
            data=data,
        )
    with pytest.raises(ValidationError):
        act.EmailInput(user_id="user-1", template="booking-lost", message_key="k", data=data)
