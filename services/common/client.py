"""What every service's typed client (`services/<name>/client.py`) is built on.

A typed client states a service's routes once: each method sends the route's request model
to the path and scope its `api.py` names, and parses the answer as the route's response
model. `TypedClient` is the sending part they share: models to JSON and query parameters,
through a `ServiceConnection` (which carries the service token, the caller's deadline and the
request id). A refusal comes back as `ServiceError` with the callee's problem document; no
answer at all as `TransportError`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel

from services.common.http import Reply, ServiceConnection


def as_json(value: BaseModel | Mapping[str, Any] | None, **dump: Any) -> Any:
    """A model as the JSON it is sent as (a dict or None as it is)."""
    return value.model_dump(mode="json", **dump) if isinstance(value, BaseModel) else value


def bearer(token: str) -> dict[str, str]:
    """The header that presents a credential of the caller's own (an API key, a
    traveller's access token) instead of the process's service token."""
    return {"Authorization": f"Bearer {token}"}


class TypedClient:
    """The base of a service's typed client: one `ServiceConnection` and a way to send."""

    def __init__(self, service: ServiceConnection) -> None:
        self.service = service

    async def _call(
        self,
        method: str,
        path: str,
        scope: str | None,
        body: BaseModel | Mapping[str, Any] | None = None,
        query: BaseModel | Mapping[str, Any] | None = None,
        *,
        headers: dict[str, str] | None = None,
        idempotency_key: str | None = None,
    ) -> Reply:
        """Send one request (`scope=None`: a public route, or a credential in `headers`)
        and return the 2xx answer."""
        return await self.service.request(
            method,
            path,
            scopes=scope,
            json=as_json(body),
            params=as_json(query, exclude_none=True),
            headers=headers,
            idempotency_key=idempotency_key,
        )

    async def _send(
        self,
        method: str,
        path: str,
        scope: str | None,
        body: BaseModel | Mapping[str, Any] | None = None,
        query: BaseModel | Mapping[str, Any] | None = None,
    ) -> bytes:
        """`_call`, for the body of the answer."""
        return (await self._call(method, path, scope, body, query)).content
