"""Inputs and outputs of every activity: one model in, one model out.

Imported by the workflow through the sandbox, so: models and names only (a service's
contract is that too). No e-mail address or card number ever appears here (histories keep
these payloads). Where the saga keeps fewer fields than a service answers, the model is
its own, so that the payloads in recorded histories still read.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field, model_validator

from services.pdf import api as pdf_api
from services.reservations import api as reservations_api
from services.users import api as users_api

# Activity names, shared by the workflow, the workers and the tests' stand-ins.
DESCRIBE_HOTEL = "describe_hotel"
HOLD_ROOM = "hold_room"
RELEASE_HOLD = "release_hold"
CONFIRM_RESERVATION = "confirm_reservation"
CANCEL_RESERVATION = "cancel_reservation"
AUTHORIZE_PAYMENT = "authorize_payment"
CAPTURE_PAYMENT = "capture_payment"
VOID_PAYMENT = "void_payment"
REFUND_PAYMENT = "refund_payment"
RENDER_DOCUMENT = "render_document"
SEND_EMAIL = "send_email"
NOOP = "noop"  # served only by the benchmark's own workers: its baseline

# Business failures, raised as non-retryable ApplicationErrors of these types.
SOLD_OUT = "SoldOut"
HOLD_EXPIRED = "HoldExpired"
TOO_MANY_HOLDS = "TooManyHolds"  # the traveller keeps as many unpaid holds as allowed
PAYMENT_DECLINED = "PaymentDeclined"
BAD_REQUEST = "BadRequest"


class HotelRef(BaseModel):
    """A room type of a hotel, as the traveller chose it."""

    hotel_id: int
    room_type_id: int


class HotelInfo(BaseModel):
    """What the receipt and the e-mails say about the hotel (from the Search catalogue)."""

    hotel_name: str
    hotel_address: str
    room_type_name: str
    capacity: int


HoldInput = reservations_api.HoldRequest
"""Hold one room of a type for every night of a stay: Reservations' own request. Every
booking the workflow accepts makes a valid one (`BookingRequest` is the stricter)."""

NightPrice = reservations_api.NightPrice
"""The price of one night of a stay, in minor units: Reservations' own."""

HotelTerms = reservations_api.HotelTerms
"""The hotel's terms (cancellation window, tax, check-in and check-out times): Reservations'
own, which owns them."""

Hold = reservations_api.HoldSummary
"""A placed hold as the saga keeps it: Reservations' summary of its `Hold` (the histories
carry these fields, so the activity answers no more of them). Holds recorded before the
terms came with them read with Reservations' default terms."""


class HoldRef(BaseModel):
    """Names a hold."""

    hold_id: str


class Reservation(BaseModel):
    """A confirmed reservation: the fields of Reservations' `Reservation` the saga keeps."""

    reservation_id: str
    confirmation_code: str


class ReservationRef(BaseModel):
    """Names a reservation."""

    reservation_id: str


class AuthorizeInput(BaseModel):
    """Authorise the stay's amount on a card token: the booking's `attempt`-th card (each
    attempt has its own bank key; inputs recorded before attempts were the first)."""

    booking_id: str
    user_id: str
    amount: int
    currency: str
    card_token: str
    attempt: int = 1


class PaymentRef(BaseModel):
    """Names a booking's payment (one per booking)."""

    booking_id: str


class RefundInput(BaseModel):
    """Refund part or all of a captured payment, once per refund_id."""

    booking_id: str
    amount: int
    refund_id: str


class Payment(BaseModel):
    """A payment as the saga keeps it (its histories carry these fields), from Payments'
    `Payment`; `reference` is the bank's authorization id."""

    payment_id: str
    status: str
    amount: int
    captured: int = 0
    refunded: int = 0
    currency: str
    reference: str | None = None
    card_brand: str | None = None
    """The card's scheme as the bank names it, for the receipt (none in older histories)."""
    card_last4: str | None = None
    """The card's last four digits, for the receipt: no other card data reaches the saga."""


DocumentTemplate = pdf_api.Template
"""A document template the PDF service renders (`receipt`, `cancellation`)."""

ReceiptData = pdf_api.ReceiptData
"""The receipt's data: the PDF service's own model of the `receipt` template."""

CancellationData = pdf_api.CancellationData
"""The cancellation note's data: the PDF service's own model of the `cancellation` template."""

DocumentNight = pdf_api.Night
"""A night of the stay and its price, as a document lists it: the PDF service's own."""


_TAKEN_SINCE_TYPED = frozenset({"room_type_name", "tax_rate_percent", "card_brand", "card_last4"})
"""The documents' fields added after their data was typed (the untyped data had some of
these names too, which the templates did not take then)."""


class DocumentInput(BaseModel):
    """Render a document from a template, once per key, with the template's own data model
    (so the workflow cannot hand over data the template does not take)."""

    template: DocumentTemplate
    owner_id: str
    key: str
    data: CancellationData | ReceiptData

    @model_validator(mode="before")
    @classmethod
    def _earlier_payload(cls, value: Any) -> Any:
        # Before the data was typed, the workflow sent every field it knew and this activity
        # kept the template's own: a task scheduled then still reads, as it read then
        # (without the fields the templates took later, so it renders the same document).
        if isinstance(value, dict) and isinstance(value.get("data"), dict):
            model = pdf_api.TEMPLATE_DATA.get(str(value.get("template")))
            if model is not None and not set(value["data"]) <= set(model.model_fields):
                kept = set(model.model_fields) - _TAKEN_SINCE_TYPED
                data = {k: v for k, v in value["data"].items() if k in kept}
                value = {**value, "data": data}
        return value

    @model_validator(mode="after")
    def _data_of_the_template(self) -> DocumentInput:
        expected = pdf_api.TEMPLATE_DATA[self.template]
        if type(self.data) is not expected:
            raise ValueError(f"{self.template} takes {expected.__name__}")
        return self


class Document(BaseModel):
    """A rendered document."""

    document_id: str


class Attachment(BaseModel):
    """A rendered document to attach to an e-mail."""

    document_id: str
    filename: str


EmailTemplate = users_api.BookingTemplate
"""A booking e-mail template of the Users service."""

MailData = users_api.BookingMailData
"""The data of a booking e-mail: the Users service's own model."""

PersonName = users_api.Name
"""A person's name (a booking's guest): the rule Users keeps for an account's name."""


class EmailInput(BaseModel):
    """E-mail a user (the Users service knows the address), once per message_key, with the
    data the template needs (checked here, so that the workflow cannot leave one out)."""

    user_id: str
    template: EmailTemplate
    message_key: str
    data: MailData
    attachments: list[Attachment] = Field(default_factory=list)

    @model_validator(mode="after")
    def _what_the_template_needs(self) -> EmailInput:
        missing = self.data.missing_for(self.template)
        if missing:
            raise ValueError(f"{self.template} needs {', '.join(missing)}")
        return self


class Email(BaseModel):
    """An accepted e-mail."""

    message_id: str


class Done(BaseModel):
    """An activity with nothing to report but success."""

    ok: bool = True


# Reconciliation: the activities of the reconciler, and what they pass.
LIST_PAYMENT_SUSPECTS = "list_payment_suspects"
LIST_RESERVATION_SUSPECTS = "list_reservation_suspects"
BOOKING_OUTCOMES = "booking_outcomes"
REPAIR_PAYMENT = "repair_payment"
REPAIR_RESERVATION = "repair_reservation"

# Kinds of suspects: what a booking may have left behind.
UNRECORDED_PAYMENT = "unrecorded_payment"  # the bank may hold an authorization unrecorded
UNCAPTURED_PAYMENT = "uncaptured_payment"  # an authorized payment never captured or voided
CONFIRMED_RESERVATION = "confirmed_reservation"  # rooms reserved
LAPSED_HOLD = "lapsed_hold"  # a hold past its expiry that still keeps its rooms
SUSPECT_KINDS = (UNRECORDED_PAYMENT, UNCAPTURED_PAYMENT, CONFIRMED_RESERVATION, LAPSED_HOLD)

# What Temporal says of a booking.
GAVE_UP = "gave_up"  # no workflow, or it ended (or is ending) without a confirmed booking
IN_FLIGHT = "in_flight"  # still running, not past taking the payment: leave it alone
CONFIRMED = "confirmed"  # confirmed (or cancelled or completed by the saga): never touched


class SuspectQuery(BaseModel):
    """Which suspects to list: changed at least `older_than_seconds` ago, within a window."""

    older_than_seconds: int = Field(ge=0)
    within_seconds: int = Field(ge=1)
    limit: int = Field(200, ge=1, le=1000)


class Suspect(BaseModel):
    """Something a booking may have left behind, and what undoes it."""

    booking_id: str
    kind: str
    hold_id: str | None = None


class Suspects(BaseModel):
    """Suspects found by one service."""

    items: list[Suspect] = Field(default_factory=list)


class BookingIds(BaseModel):
    """Bookings to ask Temporal about."""

    booking_ids: list[str]


class BookingOutcome(BaseModel):
    """What Temporal says of one booking, and why."""

    booking_id: str
    verdict: str = Field(description="gave_up, in_flight or confirmed")
    why: str


class BookingOutcomes(BaseModel):
    """Outcomes, one per booking asked about."""

    items: list[BookingOutcome] = Field(default_factory=list)


class Repaired(BaseModel):
    """What a repair undid: `changed` is false when there was nothing left to undo."""

    booking_id: str
    kind: str
    changed: bool
