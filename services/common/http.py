"""The one HTTP client services and workers use to call each other, with service tokens.

Tokens come from the authorization server by client credentials, one per audience, cached
until shortly before they expire; a 401 from the callee drops the cached token and retries
once. Errors come back as `ServiceError` carrying the callee's problem document.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from services.common.auth import audience
from services.common.logging import REQUEST_ID_HEADER, request_id_var
from services.common.settings import Settings

EXPIRY_MARGIN_SECONDS = 30.0

TokenSource = Callable[[str, str], Awaitable[tuple[str, float]]]
"""(audience, scopes) -> (access token, seconds it stays valid)."""


class ServiceError(Exception):
    """A call to another service failed; `problem` is its RFC 9457 body when it sent one."""

    def __init__(self, status: int, problem: dict[str, Any], method: str, url: str) -> None:
        self.status = status
        self.problem = problem
        self.method = method
        self.url = url
        title = problem.get("detail") or problem.get("title") or f"HTTP {status}"
        super().__init__(f"{method} {url}: {status} {title}")

    @property
    def type(self) -> str:
        """The problem's type slug (`card-declined`), or '' when the body was not a problem."""
        return str(self.problem.get("type", "")).rsplit("/", 1)[-1]

    @property
    def retryable(self) -> bool:
        """Worth retrying later: the callee or the network failed, not the request."""
        return self.status >= 500 or self.status in (408, 425, 429)


def client_credentials(settings: Settings, http: httpx.AsyncClient) -> TokenSource:
    """Tokens from the auth service's token endpoint, as this process's OAuth 2 client."""
    client_id = settings["STAYSAGA_CLIENT_ID"]
    secret = settings["STAYSAGA_CLIENT_SECRET"]

    async def fetch(aud: str, scopes: str) -> tuple[str, float]:
        if not client_id or not secret:
            raise RuntimeError(
                "STAYSAGA_CLIENT_ID and STAYSAGA_CLIENT_SECRET must be set to call other services"
            )
        response = await http.post(
            settings.auth_token_url,
            data={"grant_type": "client_credentials", "scope": scopes, "resource": aud},
            auth=(client_id, secret),
        )
        if response.status_code != 200:
            raise ServiceError(
                response.status_code, _problem(response), "POST", settings.auth_token_url
            )
        body = response.json()
        return body["access_token"], float(body.get("expires_in", 60))

    return fetch


def _problem(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {"title": response.text[:200]}
    return body if isinstance(body, dict) else {"title": str(body)[:200]}


@dataclass
class _Cached:
    token: str
    expires_at: float


@dataclass
class ServiceClient:
    """Calls one service's HTTP API with a token for the scopes it asks for."""

    component: str
    base_url: str
    tokens: TokenSource
    http: httpx.AsyncClient
    _cache: dict[str, _Cached] = field(default_factory=dict)
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def _token(self, scopes: str) -> str:
        cached = self._cache.get(scopes)
        if cached and cached.expires_at - EXPIRY_MARGIN_SECONDS > time.monotonic():
            return cached.token
        async with self._lock:
            cached = self._cache.get(scopes)
            if cached and cached.expires_at - EXPIRY_MARGIN_SECONDS > time.monotonic():
                return cached.token
            token, lifetime = await self.tokens(audience(self.component), scopes)
            self._cache[scopes] = _Cached(token, time.monotonic() + lifetime)
            return token

    async def request(
        self,
        method: str,
        path: str,
        *,
        scopes: str,
        json: Any = None,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        idempotency_key: str | None = None,
    ) -> httpx.Response:
        """Send a request; return the response if 2xx, else raise ServiceError."""
        url = self.base_url.rstrip("/") + path
        extra = dict(headers or {})
        if idempotency_key:
            extra["Idempotency-Key"] = idempotency_key
        request_id = request_id_var.get()
        if request_id:
            extra[REQUEST_ID_HEADER] = request_id
        for attempt in (1, 2):
            token = await self._token(scopes)
            response = await self.http.request(
                method,
                url,
                json=json,
                params=params,
                headers={**extra, "Authorization": f"Bearer {token}"},
            )
            if (
                response.status_code == 401
                and attempt == 1
                and "www-authenticate" in response.headers
            ):
                # Our cached token may have been revoked or signed by a retired key. A 401
                # without a challenge is the callee's own answer (invalid-credentials).
                self._cache.pop(scopes, None)
                continue
            break
        if response.status_code >= 400:
            raise ServiceError(response.status_code, _problem(response), method, url)
        return response


class ServiceClients:
    """One ServiceClient per callee, sharing one connection pool and token source."""

    def __init__(
        self,
        settings: Settings,
        tokens: TokenSource | None = None,
        http: httpx.AsyncClient | None = None,
    ) -> None:
        self.settings = settings
        self.http = http or httpx.AsyncClient(timeout=settings["HTTP_CLIENT_TIMEOUT"])
        self.tokens = tokens or client_credentials(settings, self.http)
        self._clients: dict[str, ServiceClient] = {}

    def __getitem__(self, component: str) -> ServiceClient:
        if component not in self._clients:
            self._clients[component] = ServiceClient(
                component, self.settings.url(component), self.tokens, self.http
            )
        return self._clients[component]

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self.http.aclose()
