"""The bank's one client: every caller of the bank's routes goes through `BankClient`.

The bank knows merchants by API key, not by service token: Payments calls it with the
secret key, the website tokenizes cards with the publishable key, so the key is the
client's own, given when it is made. Money movements carry the caller's idempotency key
(the bank refuses them without one). A refusal is raised as `ServiceError` with the bank's
problem document; no answer at all as `TransportError`.
"""

from __future__ import annotations

from pydantic import BaseModel

from services.bank import api
from services.common.client import as_json, bearer
from services.common.http import ServiceError, Transport, json_body, problem_of


class BankClient:
    """The bank's routes, one typed method each, with one API key."""

    def __init__(self, base_url: str, api_key: str, transport: Transport) -> None:
        self.base_url = base_url.rstrip("/")
        self._headers = bearer(api_key)
        self.transport = transport

    async def aclose(self) -> None:
        """Close the connections."""
        await self.transport.aclose()

    async def _send(
        self,
        method: str,
        path: str,
        body: BaseModel | None = None,
        query: BaseModel | None = None,
        key: str | None = None,
    ) -> bytes:
        content, headers = json_body(as_json(body))
        headers.update(self._headers)
        if key is not None:
            headers[api.IDEMPOTENCY_HEADER] = key
        params = as_json(query, exclude_none=True)
        url = self.base_url + path
        reply = await self.transport.send(method, url, headers=headers, body=content, params=params)
        if reply.status_code >= 400:
            raise ServiceError(reply.status_code, problem_of(reply), method, url)
        return reply.content

    async def tokenize(self, card: api.TokenRequest) -> api.CardToken:
        """Trade a card for a token (the publishable key may do this)."""
        return api.CardToken.model_validate_json(await self._send("POST", api.TOKENS_PATH, card))

    async def authorize(self, request: api.AuthorizationRequest, key: str) -> api.Authorization:
        """Reserve an amount on a tokenized card."""
        reply = await self._send("POST", api.AUTHORIZATIONS_PATH, request, key=key)
        return api.Authorization.model_validate_json(reply)

    async def capture(
        self, authorization_id: str, request: api.CaptureRequest, key: str
    ) -> api.Authorization:
        """Take some or all of an authorized amount."""
        reply = await self._send("POST", api.captures_path(authorization_id), request, key=key)
        return api.Authorization.model_validate_json(reply)

    async def void(self, authorization_id: str, key: str) -> api.Authorization:
        """Release an authorization nothing was captured of."""
        path = api.void_path(authorization_id)
        reply = await self._send("POST", path, api.VoidRequest(), key=key)
        return api.Authorization.model_validate_json(reply)

    async def refund(
        self, authorization_id: str, request: api.RefundRequest, key: str
    ) -> api.Authorization:
        """Give back some or all of what was captured."""
        reply = await self._send("POST", api.refunds_path(authorization_id), request, key=key)
        return api.Authorization.model_validate_json(reply)

    async def authorization(self, authorization_id: str) -> api.Authorization:
        """An authorization and its ledger."""
        reply = await self._send("GET", api.authorization_path(authorization_id))
        return api.Authorization.model_validate_json(reply)

    async def authorizations(self, query: api.AuthorizationQuery) -> api.AuthorizationList:
        """The merchant's authorizations, newest first."""
        reply = await self._send("GET", api.AUTHORIZATIONS_PATH, query=query)
        return api.AuthorizationList.model_validate_json(reply)

    async def set_faults(self, config: api.FaultConfig) -> api.FaultState:
        """Set the injected faults (secret key)."""
        reply = await self._send("PUT", api.FAULTS_PATH, config)
        return api.FaultState.model_validate_json(reply)
