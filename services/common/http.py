"""The one HTTP client services and workers use to call each other, with service tokens.

Tokens come from the authorization server by client credentials, one per audience, cached
until shortly before they expire; a 401 from the callee drops the cached token and retries
once. Errors come back as `ServiceError` carrying the callee's problem document; no answer
at all (refused, reset, timed out) as `TransportError`. A deadline in context (see
`services.common.deadlines`) goes along with every call and bounds how long it waits.

Calls go over aiohttp: under concurrency httpx costs ~1.7 ms of CPU per call on this
project's machines against ~0.2 ms for aiohttp (`staysaga bench search` shows it), and
every booking and every dated search is made of such calls. Tests hand in an
`httpx.AsyncClient` on an ASGI transport instead, to reach apps in the same process.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import aiohttp
import httpx
import pydantic_core

from services.common.auth import audience
from services.common.deadlines import DEADLINE_HEADER, deadline_var, header_value, remaining
from services.common.logging import REQUEST_ID_HEADER, request_id_var
from services.common.oauth import IssuedToken, basic_auth, form_body
from services.common.settings import Settings

EXPIRY_MARGIN_SECONDS = 30.0
# Connections kept per callee: enough for a busy service, few enough that a pool of idle
# keep-alive sockets stays small.
CONNECTIONS_PER_HOST = 32

TokenSource = Callable[[str, str], Awaitable[tuple[str, float]]]
"""(audience, scopes) -> (access token, seconds it stays valid)."""


@dataclass(frozen=True)
class Reply:
    """An HTTP answer, read in full: status, headers (names in lower case), body."""

    status_code: int
    headers: Mapping[str, str]
    content: bytes

    def json(self) -> Any:
        """The body parsed as JSON (ValueError if it is not)."""
        return pydantic_core.from_json(self.content)

    @property
    def text(self) -> str:
        """The body as text."""
        return self.content.decode(errors="replace")


class TransportError(Exception):
    """No HTTP answer came: the connection was refused or broke, or the call timed out."""

    @classmethod
    def of(cls, method: str, url: str, exc: Exception) -> TransportError:
        """The error for a call that `exc` (the client library's) stopped."""
        return cls(f"{method} {url}: {type(exc).__name__} {exc}".strip())


def _reply(status: int, headers: Mapping[str, str], content: bytes) -> Reply:
    return Reply(status, {k.lower(): v for k, v in headers.items()}, content)


def _query_pairs(params: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Query parameters as pairs, a list's values repeating its name (`stars=4&stars=5`)."""
    pairs = []
    for name, value in params.items():
        for one in value if isinstance(value, list | tuple) else [value]:
            pairs.append((name, str(one)))
    return pairs


class Transport(Protocol):
    """Sends one request and reads the whole answer."""

    async def send(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str],
        body: bytes | None = None,
        params: Mapping[str, Any] | None = None,
        timeout: float | None = None,
    ) -> Reply:
        """The answer, or TransportError; `timeout` (seconds) may shorten the usual one."""
        ...

    async def aclose(self) -> None:
        """Close the connections."""
        ...


class AiohttpTransport:
    """Keep-alive connections through one aiohttp session, made on first use (in a loop)."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self._session: aiohttp.ClientSession | None = None

    def _open(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.timeout),
                connector=aiohttp.TCPConnector(limit_per_host=CONNECTIONS_PER_HOST),
                # Our own JSON, headers and cookies only: no proxies from the environment
                # (every callee is on our network), no cookie jar.
                trust_env=False,
                cookie_jar=aiohttp.DummyCookieJar(),
                skip_auto_headers=("User-Agent",),
            )
        return self._session

    async def send(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str],
        body: bytes | None = None,
        params: Mapping[str, Any] | None = None,
        timeout: float | None = None,
    ) -> Reply:
        """The answer, or TransportError."""
        query = _query_pairs(params) if params else None
        session = self._open()
        # aiohttp reads timeout=None as "no limit at all": the session's unless shortened.
        limit = (
            session.timeout
            if timeout is None
            else aiohttp.ClientTimeout(total=min(timeout, self.timeout))
        )
        try:
            async with session.request(
                method,
                url,
                headers=headers,
                data=body,
                params=query,
                allow_redirects=False,
                timeout=limit,
            ) as response:
                return _reply(response.status, response.headers, await response.read())
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise TransportError.of(method, url, exc) from exc

    async def aclose(self) -> None:
        """Close the connections."""
        if self._session is not None:
            await self._session.close()


class HttpxTransport:
    """Requests through an httpx client: how tests reach ASGI apps in the same process."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http

    async def send(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str],
        body: bytes | None = None,
        params: Mapping[str, Any] | None = None,
        timeout: float | None = None,
    ) -> Reply:
        """The answer, or TransportError."""
        try:
            response = await self.http.request(
                method,
                url,
                headers=headers,
                content=body,
                params=params,
                timeout=httpx.USE_CLIENT_DEFAULT if timeout is None else timeout,
            )
        except httpx.HTTPError as exc:
            raise TransportError.of(method, url, exc) from exc
        return _reply(response.status_code, response.headers, response.content)

    async def aclose(self) -> None:
        """Close the connections."""
        await self.http.aclose()


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


def json_body(value: Any) -> tuple[bytes | None, dict[str, str]]:
    """A JSON request body and its content-type header; no body and no header for None."""
    if value is None:
        return None, {}
    return pydantic_core.to_json(value), {"Content-Type": "application/json"}


def transport_for(settings: Settings, http: httpx.AsyncClient | Transport | None) -> Transport:
    """The transport to call through: aiohttp unless a test hands in an httpx client (on an
    ASGI transport) or a Transport of its own."""
    if http is None:
        return AiohttpTransport(settings.common.http_client_timeout)
    if isinstance(http, httpx.AsyncClient):
        return HttpxTransport(http)
    return http


def client_credentials(settings: Settings, transport: Transport) -> TokenSource:
    """Tokens from the auth service's token endpoint, as this process's OAuth 2 client.

    Written here, not with the auth server's client: common knows no service, and every
    process needs this (see `services.common.oauth`)."""
    client_id = settings.common.client_id
    secret = settings.common.client_secret

    async def fetch(aud: str, scopes: str) -> tuple[str, float]:
        if not client_id or not secret:
            raise RuntimeError(
                "STAYSAGA_CLIENT_ID and STAYSAGA_CLIENT_SECRET must be set to call other services"
            )
        form = {"grant_type": "client_credentials", "scope": scopes, "resource": aud}
        body, headers = form_body(form)
        headers.update(basic_auth(client_id, secret))
        response = await transport.send("POST", settings.auth_token_url, headers=headers, body=body)
        if response.status_code != 200:
            raise ServiceError(
                response.status_code, problem_of(response), "POST", settings.auth_token_url
            )
        issued = IssuedToken.model_validate_json(response.content)
        return issued.access_token, issued.expires_in

    return fetch


def problem_of(response: Reply) -> dict[str, Any]:
    """The problem document of an error answer (or what there is of one)."""
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
class ServiceConnection:
    """Calls one service's HTTP API with a token for the scopes it asks for."""

    component: str
    base_url: str
    tokens: TokenSource
    transport: Transport
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
        scopes: str | None,
        json: Any = None,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        idempotency_key: str | None = None,
    ) -> Reply:
        """Send a request; return the answer if 2xx, else raise ServiceError.

        `scopes=None` calls a public route, without a token. TransportError when no
        answer came.
        """
        url = self.base_url.rstrip("/") + path
        body, extra = json_body(json)
        extra.update(headers or {})
        if idempotency_key:
            extra["Idempotency-Key"] = idempotency_key
        request_id = request_id_var.get()
        if request_id:
            extra[REQUEST_ID_HEADER] = request_id
        deadline = deadline_var.get()
        if deadline is not None:
            extra[DEADLINE_HEADER] = header_value(deadline)
        for attempt in (1, 2):
            timeout = remaining(deadline)
            if timeout == 0:
                raise TransportError(f"{method} {url}: the caller's deadline has passed")
            if scopes is not None:
                extra["Authorization"] = f"Bearer {await self._token(scopes)}"
            response = await self.transport.send(
                method, url, headers=extra, body=body, params=params, timeout=timeout
            )
            if (
                scopes is not None
                and response.status_code == 401
                and attempt == 1
                and "www-authenticate" in response.headers
            ):
                # Our cached token may have been revoked or signed by a retired key. A 401
                # without a challenge is the callee's own answer (invalid-credentials).
                self._cache.pop(scopes, None)
                continue
            break
        if response.status_code >= 400:
            raise ServiceError(response.status_code, problem_of(response), method, url)
        return response


class ServiceConnections:
    """One ServiceConnection per callee, sharing one connection pool and token source.

    `http`, for tests, is an httpx client (on an ASGI transport) or any Transport.
    """

    def __init__(
        self,
        settings: Settings,
        tokens: TokenSource | None = None,
        http: httpx.AsyncClient | Transport | None = None,
    ) -> None:
        self.settings = settings
        self.transport = transport_for(settings, http)
        self.tokens = tokens or client_credentials(settings, self.transport)
        self._clients: dict[str, ServiceConnection] = {}

    def __getitem__(self, component: str) -> ServiceConnection:
        if component not in self._clients:
            self._clients[component] = ServiceConnection(
                component, self.settings.url(component), self.tokens, self.transport
            )
        return self._clients[component]

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self.transport.aclose()
