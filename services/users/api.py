"""The Users service's public contract: accounts, credential checks, notifications."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal
from urllib.parse import quote

import email_validator
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

from services.common.fields import INT64_MAX, MinorUnits, PersonName
from services.common.mail import MESSAGE_KEY_PATTERN
from services.users.scopes import *  # noqa: F403 - its scopes are part of the contract
from services.users.scopes import TRAVELLER

# Roles: every account is a traveller; an operator also runs the operator pages. The auth
# server grants the operator scopes (OPS_READ, OPS_WRITE) only to accounts with OPERATOR.
Role = Literal["traveller", "operator"]

# Paths, as route templates; the functions below fill them in.
USERS_PATH = "/users"
ME_PATH = "/users/me"
USER_PATH = "/users/{user_id}"
EMAIL_VERIFICATIONS_PATH = "/email-verifications"
PASSWORD_RESETS_PATH = "/password-resets"  # noqa: S105 - a path, not a secret
PASSWORD_RESET_CONFIRM_PATH = "/password-resets/confirm"  # noqa: S105 - a path
CREDENTIALS_CHECK_PATH = "/credentials/check"
SIGNUP_TICKETS_PATH = "/credentials/sign-up-tickets"
MESSAGES_PATH = "/users/{user_id}/messages"
VERIFICATION_MAIL_PATH = "/users/{user_id}/verification-email"
MESSAGE_PATH = "/users/{user_id}/messages/{message_id}"


def user_path(user_id: str) -> str:
    """The path of an account."""
    return USER_PATH.format(user_id=quote(user_id, safe=""))


def verification_mail_path(user_id: str) -> str:
    """The path that e-mails an account's verification link again."""
    return VERIFICATION_MAIL_PATH.format(user_id=quote(user_id, safe=""))


def messages_path(user_id: str) -> str:
    """The path that e-mails an account."""
    return MESSAGES_PATH.format(user_id=quote(user_id, safe=""))


def message_path(user_id: str, message_id: str) -> str:
    """The path of a message queued for an account."""
    return MESSAGE_PATH.format(
        user_id=quote(user_id, safe=""), message_id=quote(message_id, safe="")
    )


PASSWORD_MIN_LENGTH = 12
PASSWORD_MAX_LENGTH = 128
# Text a mail header quotes (a subject): a line break there would end the header.
PKCE_CHALLENGE_PATTERN = r"^[A-Za-z0-9_-]{43}$"
"""An S256 code challenge: the base64url SHA-256 of the verifier (RFC 7636)."""
ONE_LINE_PATTERN = r"^[^\x00-\x1f\x7f]*$"

BookingTemplate = Literal[
    "booking-confirmed", "booking-cancelled", "booking-reminder", "booking-failed"
]
BOOKING_TEMPLATES: tuple[str, ...] = (
    "booking-confirmed",
    "booking-cancelled",
    "booking-reminder",
    "booking-failed",
)


def _parse_email(value: Any) -> Any:
    # One bare address, by the syntax rules (email-validator): no display name, no list,
    # no line break, no character that reorders text. Whether it receives mail is for
    # the verification e-mail to find out, not a DNS lookup here.
    if not isinstance(value, str):
        return value
    try:
        parsed = email_validator.validate_email(value.strip(), check_deliverability=False)
    except email_validator.EmailNotValidError as exc:
        raise ValueError(str(exc)) from None
    return parsed.normalized.lower()


def _check_password(value: str) -> str:
    # Length in characters, not bytes; no composition rules (NIST SP 800-63B).
    if len(value) < PASSWORD_MIN_LENGTH:
        raise ValueError(f"must be at least {PASSWORD_MIN_LENGTH} characters")
    if len(value) > PASSWORD_MAX_LENGTH:
        raise ValueError(f"must be at most {PASSWORD_MAX_LENGTH} characters")
    return value


Email = Annotated[str, BeforeValidator(_parse_email)]
"""One bare e-mail address, checked and lower-cased."""
Name = PersonName
"""An account's name: a person's name, by the rule every name typed into the product keeps."""
NewPassword = Annotated[str, AfterValidator(_check_password)]
"""A password being set: 12 to 128 characters."""


class Registration(BaseModel):
    """POST /users: a new account (the website calls this for a visitor signing up)."""

    model_config = ConfigDict(extra="forbid")
    email: Email = Field(max_length=320)
    name: Name = Field(min_length=1, max_length=200)
    password: NewPassword = Field(
        description=f"{PASSWORD_MIN_LENGTH} to {PASSWORD_MAX_LENGTH} characters"
    )
    signin_challenge: str | None = Field(
        None,
        pattern=PKCE_CHALLENGE_PATTERN,
        description="The PKCE S256 challenge of the sign-in the website starts for this "
        "visitor: the answer then carries a sign-up ticket bound to it",
    )


class User(BaseModel):
    """An account as others see it (never its password or hash)."""

    id: str
    email: str
    name: str
    email_verified: bool
    created_at: dt.datetime


class Registered(User):
    """The new account, and the ticket that signs it in once (when a challenge was given)."""

    signin_ticket: str | None = Field(
        None,
        description="Redeemed by the auth server (POST /credentials/sign-up-tickets) for "
        "the authorization request with the same code challenge, within ten minutes",
    )


class ProfileUpdate(BaseModel):
    """PATCH /users/me: the fields a traveller may change."""

    model_config = ConfigDict(extra="forbid")
    name: Name | None = Field(None, min_length=1, max_length=200)


class LinkToken(BaseModel):
    """POST /email-verifications: the token from the link in the verification e-mail."""

    model_config = ConfigDict(extra="forbid")
    token: str = Field(min_length=1, max_length=1000)


class PasswordResetRequest(BaseModel):
    """POST /password-resets: send a reset link to this address if it has an account."""

    model_config = ConfigDict(extra="forbid")
    email: Email = Field(max_length=320)


class PasswordReset(BaseModel):
    """POST /password-resets/confirm: the token from the reset e-mail and the new password."""

    model_config = ConfigDict(extra="forbid")
    token: str = Field(min_length=1, max_length=1000)
    password: NewPassword = Field(
        description=f"{PASSWORD_MIN_LENGTH} to {PASSWORD_MAX_LENGTH} characters"
    )


class Accepted(BaseModel):
    """An answer that says only that the request was taken."""

    status: str


ALREADY_VERIFIED = "already-verified"
"""Accepted.status of a verification e-mail asked for an address already verified."""
INVALID_CREDENTIALS = "invalid-credentials"
"""Problem type (401) of a credential check or a sign-up ticket that does not hold."""


class CredentialCheck(BaseModel):
    """POST /credentials/check (auth service only): is this the password of this e-mail?"""

    model_config = ConfigDict(extra="forbid")
    email: Email = Field(max_length=320)
    password: str = Field(max_length=PASSWORD_MAX_LENGTH * 4)


class SignupTicket(BaseModel):
    """POST /credentials/sign-up-tickets (auth service only): the account a sign-up ticket
    signs in, for the authorization request carrying this code challenge."""

    model_config = ConfigDict(extra="forbid")
    ticket: str = Field(min_length=1, max_length=1000)
    code_challenge: str = Field(pattern=PKCE_CHALLENGE_PATTERN)


def _traveller_only() -> list[Role]:
    return [TRAVELLER]


class CredentialsValid(BaseModel):
    """The account the credentials belong to."""

    user_id: str
    name: str
    email_verified: bool
    roles: list[Role] = Field(
        default_factory=_traveller_only, description="traveller, and operator for an operator"
    )


class BookingMailData(BaseModel):
    """Template data of the booking e-mails. Money in minor units.

    `confirmation_code` and `total` are required except for booking-failed; `refund` for
    booking-cancelled; `reason` for booking-failed. The room, the hotel's address, the
    cancellation policy and the booking's id (for a link to its page) are shown if given.
    """

    model_config = ConfigDict(extra="allow")
    hotel_name: str = Field(min_length=1, max_length=200, pattern=ONE_LINE_PATTERN)
    check_in: dt.date
    check_out: dt.date
    confirmation_code: str | None = Field(None, max_length=64)
    total: MinorUnits | None = Field(None, ge=0, le=INT64_MAX)
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    refund: MinorUnits | None = Field(None, ge=0, le=INT64_MAX)
    reason: str | None = Field(None, max_length=500)
    booking_id: str | None = Field(
        None, pattern=r"^[A-Za-z0-9_-]{1,64}$", description="links the e-mail to the booking's page"
    )
    room_type_name: str | None = Field(None, max_length=200, pattern=ONE_LINE_PATTERN)
    hotel_address: str | None = Field(None, max_length=300, pattern=ONE_LINE_PATTERN)
    free_cancellation_until: dt.datetime | None = Field(
        None, description="the hotel's policy: cancelling is free until then"
    )
    late_cancellation_fee: MinorUnits | None = Field(
        None, ge=0, le=INT64_MAX, description="what cancelling later keeps (the first night)"
    )

    def missing_for(self, template: str) -> list[str]:
        """The fields the template requires that this data leaves out."""
        return [f for f in REQUIRED_BY_TEMPLATE[template] if getattr(self, f) is None]


REQUIRED_BY_TEMPLATE: dict[str, tuple[str, ...]] = {
    "booking-confirmed": ("confirmation_code", "total"),
    "booking-reminder": ("confirmation_code", "total"),
    "booking-cancelled": ("confirmation_code", "total", "refund"),
    "booking-failed": ("reason",),
}


class AttachmentRef(BaseModel):
    """A document of the PDF service to attach."""

    model_config = ConfigDict(extra="forbid")
    document_id: str = Field(min_length=1, max_length=64)
    filename: str = Field(min_length=1, max_length=200, pattern=r"^[^/\\\"\r\n]+$")


class NotificationRequest(BaseModel):
    """POST /users/{user_id}/messages: e-mail a booking event to the account's address."""

    model_config = ConfigDict(extra="forbid")
    template: BookingTemplate
    data: dict[str, Any]
    attachments: list[AttachmentRef] = Field(default_factory=list, max_length=5)
    message_key: str = Field(
        pattern=MESSAGE_KEY_PATTERN,
        description="idempotency key, booking-<id>-<event> (booking-42-confirmed); "
        "Message-ID <key@staysaga.local>",
    )


class MessageStatus(BaseModel):
    """A message in the outbox: pending until the SMTP relay has accepted it."""

    message_id: str
    message_key: str
    status: Literal["pending", "sent"]
    attempts: int
    created_at: dt.datetime
    sent_at: dt.datetime | None
