"""The Users service's public contract: accounts, credential checks, notifications."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, field_validator

from services.common.fields import INT64_MAX, MinorUnits
from services.common.mail import MESSAGE_KEY_PATTERN

PASSWORD_MIN_LENGTH = 12
PASSWORD_MAX_LENGTH = 128
# Deliberately loose (one @, a dotted domain, no spaces or control characters): the
# verification e-mail is the real check that an address works.
EMAIL_PATTERN = r"^[^@\s\x00-\x1f\x7f]{1,64}@[^@\s\x00-\x1f\x7f]+\.[^@\s\x00-\x1f\x7f]+$"
# Text a mail header quotes (a subject): a line break there would end the header.
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


def _normalise_email(value: Any) -> Any:
    return value.strip().lower() if isinstance(value, str) else value


def _check_password(value: str) -> str:
    # Length in characters, not bytes; no composition rules (NIST SP 800-63B).
    if len(value) < PASSWORD_MIN_LENGTH:
        raise ValueError(f"must be at least {PASSWORD_MIN_LENGTH} characters")
    if len(value) > PASSWORD_MAX_LENGTH:
        raise ValueError(f"must be at most {PASSWORD_MAX_LENGTH} characters")
    return value


Email = Annotated[str, BeforeValidator(_normalise_email)]
"""An e-mail address, trimmed and lower-cased before any other check."""
NewPassword = Annotated[str, AfterValidator(_check_password)]
"""A password being set: 12 to 128 characters."""


class Registration(BaseModel):
    """POST /users: a new account (the website calls this for a visitor signing up)."""

    model_config = ConfigDict(extra="forbid")
    email: Email = Field(max_length=320, pattern=EMAIL_PATTERN)
    name: str = Field(min_length=1, max_length=200)
    password: NewPassword = Field(
        description=f"{PASSWORD_MIN_LENGTH} to {PASSWORD_MAX_LENGTH} characters"
    )

    @field_validator("name")
    @classmethod
    def _name_not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value.strip()


class User(BaseModel):
    """An account as others see it (never its password or hash)."""

    id: str
    email: str
    name: str
    email_verified: bool
    created_at: dt.datetime


class ProfileUpdate(BaseModel):
    """PATCH /users/me: the fields a traveller may change."""

    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(None, min_length=1, max_length=200)

    @field_validator("name")
    @classmethod
    def _name_not_blank(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("must not be blank")
        return value.strip() if value is not None else None


class LinkToken(BaseModel):
    """POST /email-verifications: the token from the link in the verification e-mail."""

    model_config = ConfigDict(extra="forbid")
    token: str = Field(min_length=1, max_length=1000)


class PasswordResetRequest(BaseModel):
    """POST /password-resets: send a reset link to this address if it has an account."""

    model_config = ConfigDict(extra="forbid")
    email: Email = Field(max_length=320, pattern=EMAIL_PATTERN)


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


class CredentialCheck(BaseModel):
    """POST /credentials/check (auth service only): is this the password of this e-mail?"""

    model_config = ConfigDict(extra="forbid")
    email: Email = Field(max_length=320)
    password: str = Field(max_length=PASSWORD_MAX_LENGTH * 4)


class CredentialsValid(BaseModel):
    """The account the credentials belong to."""

    user_id: str
    name: str
    email_verified: bool


class BookingMailData(BaseModel):
    """Template data of the booking e-mails. Money in minor units.

    `confirmation_code` and `total` are required except for booking-failed; `refund` for
    booking-cancelled; `reason` for booking-failed.
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
        description="idempotency key (booking-42.confirmed); Message-ID <key@staysaga.local>",
    )


class MessageStatus(BaseModel):
    """A message in the outbox: pending until the SMTP relay has accepted it."""

    message_id: str
    message_key: str
    status: Literal["pending", "sent"]
    attempts: int
    created_at: dt.datetime
    sent_at: dt.datetime | None
