"""Payments' public contract: its paths, its scopes, and the models its callers send and receive.

`services/payments/client.py` is the one client that calls these paths.

Money is integer minor units with an ISO 4217 currency code. Every mutation is idempotent:
per (booking, attempt) for the authorization, per booking for the capture and void, per
(booking, refund_id) for refunds.
"""

from __future__ import annotations

from datetime import datetime
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict, Field

from services.common.fields import MinorUnits
from services.payments.scopes import *  # noqa: F403 - its scopes are part of the contract

# Paths, as route templates; the functions below fill them in.
PAYMENTS_PATH = "/payments"
PAYMENT_PATH = "/payments/{booking_id}"
CAPTURE_PATH = "/payments/{booking_id}/capture"
VOID_PATH = "/payments/{booking_id}/void"
REFUNDS_PATH = "/payments/{booking_id}/refunds"
SUSPECTS_PATH = "/reconciliation/suspects"
REPAIR_PATH = "/reconciliation/{booking_id}/repair"


def payment_path(booking_id: str) -> str:
    """The path of a booking's payment."""
    return PAYMENT_PATH.format(booking_id=quote(booking_id, safe=""))


def capture_path(booking_id: str) -> str:
    """The path that captures a booking's payment."""
    return CAPTURE_PATH.format(booking_id=quote(booking_id, safe=""))


def void_path(booking_id: str) -> str:
    """The path that voids a booking's payment."""
    return VOID_PATH.format(booking_id=quote(booking_id, safe=""))


def refunds_path(booking_id: str) -> str:
    """The path that refunds a booking's payment."""
    return REFUNDS_PATH.format(booking_id=quote(booking_id, safe=""))


def repair_path(booking_id: str) -> str:
    """The path that repairs what a booking that gave up left authorized."""
    return REPAIR_PATH.format(booking_id=quote(booking_id, safe=""))


# Payment statuses (the state machine: authorized -> captured -> (partially_)refunded,
# or authorized -> voided).
AUTHORIZED = "authorized"
CAPTURED = "captured"
PARTIALLY_REFUNDED = "partially_refunded"
REFUNDED = "refunded"
VOIDED = "voided"

# A booking's intent (the fence between its authorization and its void).
INTENT_REQUESTED = "requested"
INTENT_AUTHORIZED = "authorized"
INTENT_VOIDED = "voided"

# Problem types callers branch on. Declines (402) are final; 503 is worth retrying.
CARD_DECLINED = "card-declined"
INSUFFICIENT_FUNDS = "insufficient-funds"
EXPIRED_CARD = "expired-card"
DECLINE_TYPES = (CARD_DECLINED, INSUFFICIENT_FUNDS, EXPIRED_CARD)
IDEMPOTENCY_MISMATCH = "idempotency-mismatch"
INVALID_STATE = "invalid-state"
AMOUNT_TOO_LARGE = "amount-too-large"
INVALID_CARD_TOKEN = "invalid-card-token"  # noqa: S105 - a problem type, not a secret
CARD_TOKEN_USED = "card-token-used"  # noqa: S105 - a problem type, not a secret
"""409: the token already paid for a booking (it pays for one, once)."""
CARD_TOKEN_OF_ANOTHER_PAYER = "card-token-of-another-payer"  # noqa: S105 - a problem type
"""422: the token was made for another traveller than the booking's."""
BANK_UNAVAILABLE = "bank-unavailable"
BANK_ERROR = "bank-error"
PAYMENT_VOIDED = "payment-voided"
PAYMENT_ATTEMPT_OPEN = "payment-attempt-open"
"""409: a later attempt came while the booking's previous one was not declined."""
PAYMENT_ATTEMPT_SUPERSEDED = "payment-attempt-superseded"
"""409: an attempt came after the booking had moved on to a later one."""
MAX_ATTEMPTS = 100

MAX_AMOUNT = 10**12


class PaymentRequest(BaseModel):
    """POST /payments: authorize the booking's amount on a card token.

    The payer is the booking's traveller (`user_id`). A token pays for one booking: one
    another booking used is refused (409 `card-token-used`), as is one made for another
    traveller (422 `card-token-of-another-payer`), both naming `card_token`.
    """

    model_config = ConfigDict(extra="forbid")
    booking_id: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.:-]+$")
    user_id: str = Field(min_length=1, max_length=100, description="the payer")
    amount: MinorUnits = Field(gt=0, le=MAX_AMOUNT, description="minor units")
    currency: str = Field(pattern=r"^[A-Z]{3}$", description="ISO 4217")
    card_token: str = Field(min_length=1, max_length=64, description="from the bank's /tokens")
    attempt: int = Field(
        1,
        ge=1,
        le=MAX_ATTEMPTS,
        description="which of the booking's attempts this is: each has its own bank key; "
        "a later attempt is taken only once the one before was declined",
    )


class CaptureRequest(BaseModel):
    """POST /payments/{booking_id}/capture: take the money (all of it by default)."""

    model_config = ConfigDict(extra="forbid")
    amount: MinorUnits | None = Field(None, gt=0, le=MAX_AMOUNT)


class VoidRequest(BaseModel):
    """POST /payments/{booking_id}/void: release an authorization never captured."""

    model_config = ConfigDict(extra="forbid")


class RefundRequest(BaseModel):
    """POST /payments/{booking_id}/refunds: give back some of what was captured."""

    model_config = ConfigDict(extra="forbid")
    amount: MinorUnits = Field(gt=0, le=MAX_AMOUNT)
    refund_id: str = Field(
        min_length=1,
        max_length=100,
        pattern=r"^[A-Za-z0-9_.:-]+$",
        description="the caller's id for this refund, e.g. 'cancel': a retry reuses it",
    )


class Transition(BaseModel):
    """A step of a payment's state machine, with the bank's reference for it."""

    status: str
    at: datetime
    bank_reference: str
    amount: int = Field(description="money this step moved, minor units")


class Refund(BaseModel):
    """A refund of a payment."""

    refund_id: str
    amount: int
    currency: str
    bank_reference: str
    created_at: datetime


class Payment(BaseModel):
    """A booking's payment: its totals, its history and its refunds."""

    payment_id: str
    booking_id: str
    user_id: str
    status: str
    amount: int = Field(description="authorized, minor units")
    captured: int
    refunded: int
    currency: str
    bank_authorization_id: str
    card_last4: str | None = None
    card_brand: str | None = None
    created_at: datetime
    transitions: list[Transition]
    refunds: list[Refund]


class VoidResult(BaseModel):
    """The answer to a void: the booking's payment is void, or none will ever stay open.

    Without a payment yet, the void is recorded all the same: an authorization that lands
    afterwards (a slow bank, an attempt its caller gave up on) is voided at the bank and
    refused, so compensating first and authorizing late never leaves money held.
    """

    booking_id: str
    status: str = Field(VOIDED, description="always `voided`")
    payment: Payment | None = Field(
        description="the voided payment; null when nothing had been authorized yet"
    )


class PaymentQuery(BaseModel):
    """GET /payments: a traveller's payments (a traveller may ask only for their own)."""

    model_config = ConfigDict(extra="forbid")
    user_id: str | None = Field(None, min_length=1, max_length=100)
    limit: int = Field(50, ge=1, le=500)


class PaymentList(BaseModel):
    """Payments, newest first."""

    items: list[Payment]


# Reconciliation: what a booking's payment may have left behind, and its repair.
SUSPECT_UNRECORDED = "unrecorded"
"""An intent still `requested` or `voided` with no payment: the bank may hold an
authorization Payments never recorded."""
SUSPECT_UNCAPTURED = "uncaptured"
"""A payment still `authorized`: neither captured nor voided."""

MAX_RECONCILE_SECONDS = 30 * 24 * 3600


class SuspectQuery(BaseModel):
    """GET /reconciliation/suspects: payments to check, changed in a window of time."""

    model_config = ConfigDict(extra="forbid")
    older_than: int = Field(
        600, ge=0, le=MAX_RECONCILE_SECONDS, description="seconds since its last change, at least"
    )
    within: int = Field(
        86_400,
        ge=1,
        le=MAX_RECONCILE_SECONDS,
        description="seconds since its last change, at most (must exceed older_than)",
    )
    limit: int = Field(200, ge=1, le=1000)


class PaymentSuspect(BaseModel):
    """A booking whose payment may hold money nobody will capture."""

    booking_id: str
    kind: str = Field(description="`unrecorded` or `uncaptured`")
    state: str = Field(description="the intent's state or the payment's status")
    since: datetime = Field(description="when it last changed")


class PaymentSuspects(BaseModel):
    """Suspects, oldest first."""

    items: list[PaymentSuspect]


class RepairRequest(BaseModel):
    """POST /reconciliation/{booking_id}/repair: the booking gave up; let nothing stay held."""

    model_config = ConfigDict(extra="forbid")


class RepairResult(BaseModel):
    """What a repair did: the bank authorizations it voided, and the payment as recorded."""

    booking_id: str
    voided: list[str] = Field(description="ids of bank authorizations this repair voided")
    payment: Payment | None = Field(description="the booking's payment; null if none recorded")
