"""Payments' calls to the bank: the bank's client, with idempotency keys derived from the
booking.

Every answer is sorted into three kinds: the bank's result; a final refusal (decline,
wrong state, mismatch), passed on as a 4xx problem; or an unknown outcome (5xx, timeout,
connection lost, key in flight), passed on as a retryable 503 — a retry sends the same
idempotency key, so it gets the bank's stored answer if the first attempt took effect.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from typing import TypeVar

from services.bank import api as bank_api
from services.bank import client as bank_client
from services.common.http import ServiceError, TransportError
from services.common.problems import Problem
from services.payments import api

log = logging.getLogger("staysaga.payments.bank")

RETRY_AFTER_SECONDS = "2"

T = TypeVar("T")

# Bank problem types passed on to our callers unchanged, with their status.
_FINAL_TYPES = {
    *bank_api.DECLINE_TYPES,
    bank_api.IDEMPOTENCY_MISMATCH,
    bank_api.INVALID_STATE,
    bank_api.AMOUNT_TOO_LARGE,
}


def idempotency_key(booking_id: str, operation: str, qualifier: str | None = None) -> str:
    """The bank key of one operation on a booking's payment (a refund's id, an attempt
    after the first): the same from any caller."""
    parts = ["staysaga", booking_id, operation] + ([qualifier] if qualifier else [])
    return ":".join(parts)


def authorize_key(booking_id: str, attempt: int) -> str:
    """The bank key of a booking's authorization attempt; the first keeps the key every
    booking had before a second card could be tried."""
    return idempotency_key(booking_id, "authorize", str(attempt) if attempt > 1 else None)


def unavailable(detail: str) -> Problem:
    """503: the bank's outcome is unknown or it is down; retrying is safe."""
    return Problem(
        503,
        api.BANK_UNAVAILABLE,
        "The bank is unavailable; try again.",
        detail,
        headers={"Retry-After": RETRY_AFTER_SECONDS},
    )


def token_used() -> Problem:
    """409: the card token already paid for a booking."""
    return Problem(
        409,
        api.CARD_TOKEN_USED,
        "This card token was already used.",
        "A card token pays for one booking; enter the card again.",
        field="card_token",
    )


class BankClient:
    """Payments' side of the bank: the bank's own client (`services.bank.client`, with the
    secret key), its keys derived from the booking, its answers sorted as above."""

    def __init__(self, bank: bank_client.BankClient) -> None:
        self.bank = bank

    async def _call(self, call: Awaitable[T]) -> T:
        # The errors name the request (method and address): the bank's client owns its paths.
        try:
            return await call
        except TransportError as exc:
            why = type(exc.__cause__ or exc).__name__
            log.warning("no answer from the bank (%s): %s", why, exc)
            raise unavailable(f"No answer from the bank ({why}).") from None
        except ServiceError as exc:
            raise self._problem(exc) from None

    def _problem(self, error: ServiceError) -> Problem:
        body = error.problem
        kind = error.type
        status = error.status
        if status >= 500 or kind == bank_api.IDEMPOTENCY_IN_FLIGHT or status == 429:
            return unavailable(f"The bank answered {status} ({kind or 'no detail'}).")
        if kind in _FINAL_TYPES:
            return Problem(status, kind, body.get("title", "The bank refused."), body.get("detail"))
        if kind == bank_api.TOKEN_USED:
            return token_used()
        if kind == bank_api.TOKEN_OF_ANOTHER_CUSTOMER:
            return Problem(
                422,
                api.CARD_TOKEN_OF_ANOTHER_PAYER,
                "This card token belongs to another traveller.",
                field="card_token",
            )
        if kind == bank_api.UNKNOWN_TOKEN:
            return Problem(
                422,
                api.INVALID_CARD_TOKEN,
                "The bank knows no such card token.",
                field="card_token",
            )
        log.error("bank %s %s answered %s %s", error.method, error.url, status, kind)
        return Problem(502, api.BANK_ERROR, "The bank refused our request.", f"{status} {kind}")

    async def authorize(
        self, booking_id: str, amount: int, currency: str, token: str, payer: str, attempt: int = 1
    ) -> bank_api.Authorization:
        """Authorize the booking's amount on a card token, for its payer (the bank's
        customer), under the attempt's own key."""
        # Unvalidated here: the bank judges the request, and its refusal is sorted above.
        request = bank_api.AuthorizationRequest.model_construct(
            token=token, amount=amount, currency=currency, reference=booking_id, customer=payer
        )
        key = authorize_key(booking_id, attempt)
        return await self._call(self.bank.authorize(request, key))

    async def capture(
        self, booking_id: str, authorization_id: str, amount: int
    ) -> bank_api.Authorization:
        """Capture an authorization."""
        key = idempotency_key(booking_id, "capture")
        request = bank_api.CaptureRequest.model_construct(amount=amount)
        return await self._call(self.bank.capture(authorization_id, request, key))

    async def void(self, booking_id: str, authorization_id: str) -> bank_api.Authorization:
        """Void an authorization."""
        key = idempotency_key(booking_id, "void")
        return await self._call(self.bank.void(authorization_id, key))

    async def refund(
        self, booking_id: str, authorization_id: str, refund_id: str, amount: int
    ) -> bank_api.Authorization:
        """Refund part of a capture, under the caller's refund id."""
        key = idempotency_key(booking_id, "refund", refund_id)
        request = bank_api.RefundRequest.model_construct(amount=amount)
        return await self._call(self.bank.refund(authorization_id, request, key))

    async def authorization(self, authorization_id: str) -> bank_api.Authorization:
        """Read an authorization and its ledger."""
        return await self._call(self.bank.authorization(authorization_id))

    async def search(self, reference: str) -> list[bank_api.Authorization]:
        """Every authorization the bank keeps under a reference (a booking id), newest first."""
        query = bank_api.AuthorizationQuery(reference=reference, limit=1000)
        found = await self._call(self.bank.authorizations(query))
        return found.items
