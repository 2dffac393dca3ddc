"""Payments' client of the bank: API-key calls with derived idempotency keys.

Every answer is sorted into three kinds: the bank's result; a final refusal (decline,
wrong state, mismatch), passed on as a 4xx problem; or an unknown outcome (5xx, timeout,
connection lost, key in flight), passed on as a retryable 503 — a retry sends the same
idempotency key, so it gets the bank's stored answer if the first attempt took effect.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlencode

from services.bank import api as bank_api
from services.common.http import Reply, Transport, TransportError, json_body, problem_of
from services.common.problems import Problem
from services.payments import api

log = logging.getLogger("staysaga.payments.bank")

RETRY_AFTER_SECONDS = "2"

# Bank problem types passed on to our callers unchanged, with their status.
_FINAL_TYPES = {
    *bank_api.DECLINE_TYPES,
    bank_api.IDEMPOTENCY_MISMATCH,
    bank_api.INVALID_STATE,
    bank_api.AMOUNT_TOO_LARGE,
}


def idempotency_key(booking_id: str, operation: str, refund_id: str | None = None) -> str:
    """The bank key of one operation on a booking's payment: the same from any caller."""
    parts = ["staysaga", booking_id, operation] + ([refund_id] if refund_id else [])
    return ":".join(parts)


def unavailable(detail: str) -> Problem:
    """503: the bank's outcome is unknown or it is down; retrying is safe."""
    return Problem(
        503,
        api.BANK_UNAVAILABLE,
        "The bank is unavailable; try again.",
        detail,
        headers={"Retry-After": RETRY_AFTER_SECONDS},
    )


class BankClient:
    """Calls the bank with the secret key."""

    def __init__(self, base_url: str, secret_key: str, transport: Transport) -> None:
        self.base_url = base_url.rstrip("/")
        self._headers = {"Authorization": f"Bearer {secret_key}"}
        self.transport = transport

    async def _call(
        self, method: str, path: str, json: Any = None, key: str | None = None
    ) -> bank_api.Authorization:
        return bank_api.Authorization.model_validate_json(await self._send(method, path, json, key))

    async def _send(
        self, method: str, path: str, json: Any = None, key: str | None = None
    ) -> bytes:
        body, headers = json_body(json)
        headers.update(self._headers)
        if key is not None:
            headers[bank_api.IDEMPOTENCY_HEADER] = key
        try:
            response = await self.transport.send(
                method, self.base_url + path, headers=headers, body=body
            )
        except TransportError as exc:
            why = type(exc.__cause__ or exc).__name__
            log.warning("bank %s %s: %s", method, path, why)
            raise unavailable(f"No answer from the bank ({why}).") from None
        if response.status_code < 400:
            return response.content
        raise self._problem(method, path, response)

    def _problem(self, method: str, path: str, response: Reply) -> Problem:
        body = problem_of(response)
        kind = str(body.get("type", "")).rsplit("/", 1)[-1]
        status = response.status_code
        if status >= 500 or kind == bank_api.IDEMPOTENCY_IN_FLIGHT or status == 429:
            return unavailable(f"The bank answered {status} ({kind or 'no detail'}).")
        if kind in _FINAL_TYPES:
            return Problem(status, kind, body.get("title", "The bank refused."), body.get("detail"))
        if kind == bank_api.UNKNOWN_TOKEN:
            return Problem(
                422,
                api.INVALID_CARD_TOKEN,
                "The bank knows no such card token.",
                field="card_token",
            )
        log.error("bank %s %s answered %s %s", method, path, status, kind)
        return Problem(502, api.BANK_ERROR, "The bank refused our request.", f"{status} {kind}")

    async def authorize(
        self, booking_id: str, amount: int, currency: str, token: str
    ) -> bank_api.Authorization:
        """Authorize the booking's amount on a card token."""
        body = {"token": token, "amount": amount, "currency": currency, "reference": booking_id}
        key = idempotency_key(booking_id, "authorize")
        return await self._call("POST", "/authorizations", body, key)

    async def capture(
        self, booking_id: str, authorization_id: str, amount: int
    ) -> bank_api.Authorization:
        """Capture an authorization."""
        key = idempotency_key(booking_id, "capture")
        path = f"/authorizations/{authorization_id}/captures"
        return await self._call("POST", path, {"amount": amount}, key)

    async def void(self, booking_id: str, authorization_id: str) -> bank_api.Authorization:
        """Void an authorization."""
        key = idempotency_key(booking_id, "void")
        return await self._call("POST", f"/authorizations/{authorization_id}/void", {}, key)

    async def refund(
        self, booking_id: str, authorization_id: str, refund_id: str, amount: int
    ) -> bank_api.Authorization:
        """Refund part of a capture, under the caller's refund id."""
        key = idempotency_key(booking_id, "refund", refund_id)
        path = f"/authorizations/{authorization_id}/refunds"
        return await self._call("POST", path, {"amount": amount}, key)

    async def authorization(self, authorization_id: str) -> bank_api.Authorization:
        """Read an authorization and its ledger."""
        return await self._call("GET", f"/authorizations/{authorization_id}")

    async def search(self, reference: str) -> list[bank_api.Authorization]:
        """Every authorization the bank keeps under a reference (a booking id), newest first."""
        query = urlencode({"reference": reference, "limit": 1000})
        found = await self._send("GET", f"/authorizations?{query}")
        return bank_api.AuthorizationList.model_validate_json(found).items
