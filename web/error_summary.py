"""The error summary a page with a refused form opens with: each field named, each a link
to its input (whose id is the field's name), so a traveller finds every problem at once."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

# How the forms' labels name each field, in the order the forms show them; a field left
# out is named by its key, and listed last.
FIELD_LABELS = {
    "city": "City",
    "check_in": "Check-in",
    "check_out": "Check-out",
    "guests": "Guests",
    "stars": "Stars",
    "min_price": "Lowest price a night",
    "max_price": "Highest price a night",
    "name": "Your name",
    "email": "E-mail address",
    "password": "Password",
    "guest_name": "Guest's name",
    "holder": "Name on the card",
    "number": "Card number",
    "exp_month": "Expiry month",
    "exp_year": "Expiry year",
    "cvc": "Security code",
    "status": "Status",
    "hotel_id": "Hotel",
    "user_id": "Account",
}
# The form as a whole: said next to the form, not a field to link to.
FORM_WIDE = "form"


@dataclass(frozen=True)
class SummaryItem:
    """One refused field: its input's id, its label and what is wrong."""

    field: str
    label: str
    message: str


def error_summary(errors: Mapping[str, str] | None) -> list[SummaryItem]:
    """The refused fields of a page's form, in the order the form shows them."""
    order = {field: index for index, field in enumerate(FIELD_LABELS)}
    refused = [(f, m) for f, m in (errors or {}).items() if f != FORM_WIDE and m]
    refused.sort(key=lambda pair: order.get(pair[0], len(order)))
    return [
        SummaryItem(field, FIELD_LABELS.get(field, field.replace("_", " ").capitalize()), msg)
        for field, msg in refused
    ]
