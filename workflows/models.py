"""The booking saga's contract: its input, status view, updates and queries.

Clients (the website, the CLI, tests) import this module, never the workflow's internals.
Models only: safe to pass through the workflow sandbox.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field
from temporalio.common import SearchAttributePair

from activities.models import PersonName
from temporal.names import BOOKING_STATUS, CHECK_IN, HOTEL_ID, USER_ID
from workflows.states import WORKFLOW_TYPE as WORKFLOW_TYPE
from workflows.states import BookingState as BookingState

UPDATE_SUBMIT_PAYMENT = "submit_payment"
UPDATE_CANCEL = "cancel"
UPDATE_RESEND_CONFIRMATION = "resend_confirmation"
QUERY_STATUS = "status"
QUERY_CANCELLATION_QUOTE = "cancellation_quote"

# The CheckIn search attribute is the check-in date at this UTC time (filtering only: the
# times a stay begins and ends by the hotel's terms come from Reservations with the hold).
CHECK_IN_TIME = time(14, 0, tzinfo=UTC)


class Step(StrEnum):
    """Steps the saga has done, in the order a traveller follows them."""

    HELD = "held"
    PAID = "paid"  # the bank authorised the amount
    CONFIRMED = "confirmed"
    CAPTURED = "captured"
    RECEIPT = "receipt"
    EMAILED = "emailed"
    REMINDED = "reminded"
    VOIDED = "voided"
    RELEASED = "released"
    REFUNDED = "refunded"
    CANCELLATION_NOTE = "cancellation_note"
    CANCELLATION_EMAILED = "cancellation_emailed"
    FAILURE_EMAILED = "failure_emailed"


class BookingRequest(BaseModel):
    """What starts a booking. Holds no e-mail address or card data: histories keep it."""

    booking_id: str = Field(min_length=1, max_length=64)
    user_id: str = Field(min_length=1, max_length=64)
    hotel_id: int = Field(ge=1)
    room_type_id: int = Field(ge=1)
    check_in: date
    check_out: date
    guests: int = Field(ge=1, le=10)
    # Refuses control and invisible formatting characters (line breaks, bidi overrides): the
    # name reaches the receipt and the e-mails.
    guest_name: PersonName = Field(min_length=1, max_length=200)
    step_budget_seconds: int | None = Field(
        None,
        ge=5,
        le=3600,
        description="how long each step before confirmation may take, retries included "
        "(default two minutes); fault drills shorten it",
    )

    def summary(self) -> str:
        """The booking in one line, for the Temporal UI's list: what was asked for, with no
        personal data (the guest's name stays in the payload)."""
        nights = (self.check_out - self.check_in).days
        return (
            f"Hotel {self.hotel_id}, room type {self.room_type_id}: {self.check_in} to "
            f"{self.check_out} ({nights} night{'s' if nights != 1 else ''}), "
            f"{self.guests} guest{'s' if self.guests != 1 else ''}"
        )

    def details(self) -> str:
        """The booking as the Temporal UI shows it on the workflow's page (Markdown)."""
        return (
            f"**Booking** `{self.booking_id}`  \n**User** `{self.user_id}`  \n"
            f"**Hotel** {self.hotel_id}, room type {self.room_type_id}  \n"
            f"**Stay** {self.check_in} to {self.check_out}, {self.guests} guest(s)"
        )


class PaymentSubmission(BaseModel):
    """The `submit_payment` update: a bank card token (never a card number)."""

    card_token: str = Field(min_length=8, max_length=128, pattern=r"^tok_[A-Za-z0-9_]+$")


class Operator(BaseModel):
    """The operator who asked for an action on someone's booking: their account."""

    user_id: str = Field(min_length=1, max_length=64)
    name: str | None = Field(None, max_length=200)


class CancelRequest(BaseModel):
    """The `cancel` update: the traveller's, or an operator's on their behalf (who and why
    then travel in the update's input, so the workflow's history keeps them)."""

    reason: str = Field("cancelled by the traveller", max_length=500)
    operator: Operator | None = None


class ResendRequest(BaseModel):
    """The `resend_confirmation` update: an operator e-mails the confirmation again."""

    operator: Operator
    reason: str = Field(min_length=1, max_length=500)


class OperatorActionKind(StrEnum):
    """What an operator did to a booking."""

    CANCEL = "cancel"
    RESEND_CONFIRMATION = "resend_confirmation"


class OperatorAction(BaseModel):
    """One operator action on a booking, as its status view keeps it: who, what, why, when."""

    action: OperatorActionKind
    operator: Operator
    reason: str
    at: datetime


class CancellationQuote(BaseModel):
    """What cancelling now would refund, by the policy."""

    cancellable: bool
    refund: int
    fee: int
    currency: str
    free_until: datetime | None = None
    why_not: str | None = None


class BookingView(BaseModel):
    """The `status` query: everything a traveller or operator needs to follow a booking."""

    booking_id: str
    user_id: str
    state: BookingState
    steps: list[Step] = Field(default_factory=list)
    hotel_id: int
    room_type_id: int
    check_in: date
    check_out: date
    guests: int
    hotel_name: str | None = None
    room_type_name: str | None = None
    hold_id: str | None = None
    hold_expires_at: datetime | None = None
    pay_by: datetime | None = None
    """When the saga stops waiting for a card (a little before the hold lapses): the
    deadline a traveller is shown."""
    free_cancellation_until: datetime | None = None
    """Until when cancelling is free, by the hotel's terms (known once the room is held)."""
    late_cancellation_fee: int | None = None
    """What cancelling after `free_cancellation_until` keeps: the first night."""
    total: int | None = None
    currency: str | None = None
    nights: list[dict[str, Any]] = Field(default_factory=list)
    reservation_id: str | None = None
    confirmation_code: str | None = None
    payment_status: str | None = None
    card_brand: str | None = None
    """The card paid with: its scheme and last four digits, nothing more."""
    card_last4: str | None = None
    captured: int = 0
    refunded: int = 0
    receipt_document_id: str | None = None
    cancellation_document_id: str | None = None
    failure_reason: str | None = None
    declined_cards: int = 0
    """How many cards the bank declined; since a decline keeps the room, the traveller may
    pay with another until `pay_by`."""
    decline_reason: str | None = None
    """Why the latest card was declined, in the traveller's words."""
    updated_at: datetime | None = None
    step_times: dict[Step, datetime] = Field(default_factory=dict)
    """When each step was done (workflow time), for operators and for timing milestones."""
    operator_actions: list[OperatorAction] = Field(default_factory=list)
    """What operators did to the booking, oldest first."""
    trace_id: str | None = None
    """The OpenTelemetry trace the booking was started in (the website's request, then
    the workflow, its activities and the services they call); None when untraced."""


def trace_id_of(traceparent: object) -> str | None:
    """The trace id of a W3C `traceparent` (`00-<32 hex>-<16 hex>-<2 hex>`), or None."""
    if not isinstance(traceparent, str):
        return None
    parts = traceparent.strip().split("-")
    if len(parts) < 4 or len(parts[1]) != 32:
        return None
    trace_id = parts[1].lower()
    if set(trace_id) - set("0123456789abcdef") or trace_id == "0" * 32:
        return None
    return trace_id


def search_attributes(
    request: BookingRequest, state: BookingState
) -> list[SearchAttributePair[Any]]:
    """What operators filter bookings by in the Temporal UI: BookingStatus, HotelId, CheckIn
    and UserId (an opaque id; never an e-mail address or a card). The website sets them when
    it starts a booking; the workflow upserts them as the state changes."""
    return [
        SearchAttributePair(BOOKING_STATUS, state.value),
        SearchAttributePair(HOTEL_ID, str(request.hotel_id)),
        SearchAttributePair(CHECK_IN, datetime.combine(request.check_in, CHECK_IN_TIME)),
        SearchAttributePair(USER_ID, request.user_id),
    ]


RECONCILE_WORKFLOW_TYPE = "ReconcileWorkflow"
RECONCILE_WINDOW_SECONDS = 86_400
"""The reconciler looks at what changed within this long (a day): far more than its
interval plus its grace, so nothing falls between two runs."""


class ReconcileInput(BaseModel):
    """One reconciliation: check suspects older than the grace, changed within the window."""

    grace_seconds: int = Field(600, ge=0)
    window_seconds: int = Field(RECONCILE_WINDOW_SECONDS, ge=1)
    limit: int = Field(200, ge=1, le=1000, description="suspects per service per run")


class KindCount(BaseModel):
    """What one kind of suspect came to in a reconciliation."""

    kind: str
    found: int = 0
    repaired: int = Field(0, description="repairs that undid something")
    left_alone: int = Field(0, description="bookings in flight or confirmed")
    failed: int = Field(0, description="repairs refused or that kept failing")


class ReconcileSummary(BaseModel):
    """A reconciliation's counts, one entry per kind of suspect."""

    kinds: list[KindCount]
    repaired_bookings: list[str] = Field(default_factory=list)

    def lines(self) -> list[str]:
        """One line per kind, for logs and the CLI."""
        return [
            f"{k.kind}: found {k.found}, repaired {k.repaired}, left alone {k.left_alone}, "
            f"failed {k.failed}"
            for k in self.kinds
        ]


def outcome_details(view: BookingView) -> str:
    """Where the booking stands, for the Temporal UI (Markdown): its state, the hotel once
    known, and why it failed. A failed or expired booking is a completed workflow whose
    `BookingStatus` says so: the saga did its job, compensations included; a failed
    workflow would mean the orchestration itself broke."""
    lines = [f"**{view.state.value}**"]
    if view.hotel_name:
        lines.append(f"{view.hotel_name}, {view.room_type_name or 'room'}")
    if view.confirmation_code:
        lines.append(f"confirmation {view.confirmation_code}")
    if view.failure_reason:
        lines.append(view.failure_reason)
    return "  \n".join(lines)
