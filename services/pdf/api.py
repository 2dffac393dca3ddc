"""The PDF service's public contract: what each template needs, and what comes back."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict, Field, model_validator

from services.common.fields import INT64_MAX, MinorUnits, PersonName
from services.pdf.scopes import *  # noqa: F403 - its scopes are part of the contract

Template = Literal["receipt", "cancellation"]
TEMPLATES: tuple[str, ...] = ("receipt", "cancellation")


# Paths, as route templates; `document_path` fills one in.
DOCUMENTS_PATH = "/documents"
DOCUMENT_PATH = "/documents/{document_id}"


def document_path(document_id: str) -> str:
    """The path of a document's PDF."""
    return DOCUMENT_PATH.format(document_id=quote(document_id, safe=""))


class Night(BaseModel):
    """One night of the stay and its price in minor units."""

    model_config = ConfigDict(extra="forbid")
    night: dt.date
    price: MinorUnits = Field(ge=0, le=INT64_MAX)


class ReceiptData(BaseModel):
    """Data of the booking receipt (template `receipt`). Money in minor units; `total` is
    what was paid, the nights' prices summed, and `taxes` the part of it that is tax."""

    model_config = ConfigDict(extra="forbid")
    hotel_name: str = Field(min_length=1, max_length=200)
    hotel_address: str = Field(min_length=1, max_length=300)
    guest_name: PersonName = Field(min_length=1, max_length=200)
    check_in: dt.date
    check_out: dt.date
    nights: list[Night] = Field(min_length=1, max_length=366)
    taxes: MinorUnits = Field(ge=0, le=INT64_MAX)
    total: MinorUnits = Field(ge=0, le=INT64_MAX)
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    payment_reference: str = Field(min_length=1, max_length=200)
    confirmation_code: str = Field(min_length=1, max_length=64)
    room_type_name: str | None = Field(None, min_length=1, max_length=200)
    tax_rate_percent: int | None = Field(
        None, ge=0, le=100, description="the VAT rate `taxes` is, included in `total`"
    )
    card_brand: str | None = Field(
        None, min_length=1, max_length=20, description="the card paid with, as the bank names it"
    )
    card_last4: str | None = Field(None, pattern=r"^[0-9]{4}$")

    @model_validator(mode="after")
    def _dates_in_order(self) -> ReceiptData:
        if self.check_out <= self.check_in:
            raise ValueError("check_out must be after check_in")
        return self


class CancellationData(ReceiptData):
    """Data of the cancellation note (template `cancellation`): the receipt's and the refund."""

    refund: MinorUnits = Field(ge=0, le=INT64_MAX)
    cancelled_at: dt.datetime


TEMPLATE_DATA: dict[str, type[ReceiptData]] = {
    "receipt": ReceiptData,
    "cancellation": CancellationData,
}


class RenderRequest(BaseModel):
    """POST /documents: render `template` with `data`, once per `key`."""

    model_config = ConfigDict(extra="forbid")
    template: Template
    data: dict[str, Any] = Field(description="fields of the template's schema (ReceiptData...)")
    owner_id: str = Field(min_length=1, max_length=200, description="the traveller it is for")
    key: str = Field(
        min_length=1,
        max_length=200,
        description="idempotency key: the same key returns the same document",
    )


class Document(BaseModel):
    """A rendered document; GET /documents/{id} returns its PDF."""

    id: str
    template: Template
    owner_id: str
    created_at: dt.datetime
    size: int
