"""The bank's public contract: what merchants send and what they get back.

Money is integer minor units with an ISO 4217 currency code. Card numbers and CVCs go in
(to POST /tokens) and never come out.
"""

from __future__ import annotations

from datetime import datetime
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict, Field, field_validator

from services.common.fields import MinorUnits, PersonName
from services.common.parsers import ascii_digits

# Statuses of an authorization, shared with Payments' own state machine.
AUTHORIZED = "authorized"
CAPTURED = "captured"
PARTIALLY_REFUNDED = "partially_refunded"
REFUNDED = "refunded"
VOIDED = "voided"

# Kinds of ledger entries.
AUTHORIZE = "authorize"
CAPTURE = "capture"
VOID = "void"
REFUND = "refund"

# Problem types of declines (402): stable, and passed on by Payments.
CARD_DECLINED = "card-declined"
INSUFFICIENT_FUNDS = "insufficient-funds"
EXPIRED_CARD = "expired-card"
DECLINE_TYPES = (CARD_DECLINED, INSUFFICIENT_FUNDS, EXPIRED_CARD)

# Other problem types a merchant must tell apart.
IDEMPOTENCY_KEY_MISSING = "idempotency-key-missing"
IDEMPOTENCY_MISMATCH = "idempotency-mismatch"
IDEMPOTENCY_IN_FLIGHT = "idempotency-in-flight"
INVALID_STATE = "invalid-state"
AMOUNT_TOO_LARGE = "amount-too-large"
UNKNOWN_TOKEN = "unknown-token"  # noqa: S105 - a problem type, not a secret
TOKEN_USED = "token-used"  # noqa: S105 - a problem type, not a secret
TOKEN_OF_ANOTHER_CUSTOMER = "token-of-another-customer"  # noqa: S105 - a problem type
BANK_UNAVAILABLE = "bank-unavailable"
BANK_TIMEOUT = "bank-timeout"

IDEMPOTENCY_HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
MAX_AMOUNT = 10**12

# Paths, as route templates; the functions below fill them in. The bank knows merchants
# by API key, not by service token: no scopes.
TOKENS_PATH = "/tokens"
AUTHORIZATIONS_PATH = "/authorizations"
AUTHORIZATION_PATH = "/authorizations/{authorization_id}"
CAPTURES_PATH = "/authorizations/{authorization_id}/captures"
VOID_PATH = "/authorizations/{authorization_id}/void"
REFUNDS_PATH = "/authorizations/{authorization_id}/refunds"
FAULTS_PATH = "/admin/faults"


def _fill(template: str, authorization_id: str) -> str:
    return template.format(authorization_id=quote(authorization_id, safe=""))


def authorization_path(authorization_id: str) -> str:
    """The path of an authorization."""
    return _fill(AUTHORIZATION_PATH, authorization_id)


def captures_path(authorization_id: str) -> str:
    """The path that captures an authorization."""
    return _fill(CAPTURES_PATH, authorization_id)


def void_path(authorization_id: str) -> str:
    """The path that voids an authorization."""
    return _fill(VOID_PATH, authorization_id)


def refunds_path(authorization_id: str) -> str:
    """The path that refunds an authorization."""
    return _fill(REFUNDS_PATH, authorization_id)


Currency = Field(pattern=r"^[A-Z]{3}$", description="ISO 4217 code, e.g. EUR")
Amount = Field(gt=0, le=MAX_AMOUNT, description="minor units (cents)")


class TokenRequest(BaseModel):
    """POST /tokens: the card as the traveller typed it."""

    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True)
    number: str = Field(min_length=12, max_length=23, repr=False, description="card number")
    exp_month: int = Field(ge=1, le=12)
    exp_year: int = Field(ge=2000, le=2100)
    cvc: str = Field(pattern=r"^[0-9]{3,4}$", repr=False)
    holder: PersonName = Field(min_length=1, max_length=200)
    customer: str | None = Field(
        None,
        min_length=1,
        max_length=100,
        description="the merchant's id of the payer: only an authorization naming them may "
        "use the token",
    )

    @field_validator("number")
    @classmethod
    def _digits(cls, value: str) -> str:
        digits = value.replace(" ", "").replace("-", "")
        try:
            return ascii_digits(digits, 12, 19)
        except ValueError:
            raise ValueError("must be 12 to 19 digits") from None


class CardToken(BaseModel):
    """An opaque token standing for a card, and what may be shown of it."""

    token: str
    brand: str
    last4: str
    exp_month: int
    exp_year: int


class AuthorizationRequest(BaseModel):
    """POST /authorizations: reserve an amount on a tokenized card.

    A token is single-use: the first authorization consumes it (a retry under the same
    Idempotency-Key gets that authorization's stored answer); any other is refused (409
    `token-used`). A token made for a customer serves only an authorization naming them
    (422 `token-of-another-customer`).
    """

    model_config = ConfigDict(extra="forbid")
    token: str = Field(min_length=1, max_length=64)
    amount: MinorUnits = Amount
    currency: str = Currency
    reference: str = Field(min_length=1, max_length=200, description="the merchant's own id")
    customer: str | None = Field(
        None, min_length=1, max_length=100, description="the merchant's id of the payer"
    )


class CaptureRequest(BaseModel):
    """POST /authorizations/{id}/captures: take some or all of the authorized amount."""

    model_config = ConfigDict(extra="forbid")
    amount: MinorUnits | None = Field(None, gt=0, le=MAX_AMOUNT, description="default: all of it")


class VoidRequest(BaseModel):
    """POST /authorizations/{id}/void: release an authorization nothing was captured of."""

    model_config = ConfigDict(extra="forbid")


class RefundRequest(BaseModel):
    """POST /authorizations/{id}/refunds: give back some or all of what was captured."""

    model_config = ConfigDict(extra="forbid")
    amount: MinorUnits = Amount


class Card(BaseModel):
    """What an authorization shows of its card."""

    brand: str
    last4: str


class Operation(BaseModel):
    """One entry of the bank's ledger: a movement of money on an authorization."""

    id: str = Field(description="the bank reference of this movement")
    kind: str = Field(description="authorize, capture, void or refund")
    amount: int
    at: datetime


class Authorization(BaseModel):
    """An authorization with its running totals; invariant amount >= captured >= refunded."""

    id: str
    status: str
    amount: int = Field(description="authorized, minor units")
    currency: str
    captured: int
    refunded: int
    reference: str
    card: Card
    created_at: datetime
    operations: list[Operation] = Field(description="the ledger of this authorization")
    last_operation: Operation | None = Field(
        None, description="the movement this answer is about (on POST answers)"
    )


class AuthorizationQuery(BaseModel):
    """GET /authorizations: a merchant's authorizations, newest first."""

    model_config = ConfigDict(extra="forbid")
    reference: str | None = Field(None, max_length=200)
    limit: int = Field(100, ge=1, le=1000)


class AuthorizationList(BaseModel):
    """Authorizations, newest first."""

    items: list[Authorization]


class FaultConfig(BaseModel):
    """PUT /admin/faults: what goes wrong, and how often (shares from 0 to 1)."""

    model_config = ConfigDict(extra="forbid", strict=True)
    latency_ms: int = Field(0, ge=0, le=60_000)
    error_rate: float = Field(0.0, ge=0, le=1, description="share of calls answered 503")
    timeout_rate: float = Field(
        0.0, ge=0, le=1, description="share of money movements that happen but time out"
    )
    seed: int | None = Field(None, description="reseed the fault dice, for repeatable runs")


class FaultState(FaultConfig):
    """The faults in force, as GET and PUT /admin/faults answer."""
