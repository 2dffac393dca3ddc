"""Bearer-token checks every service makes: RFC 9068 JWT access tokens, verified locally.

A token is accepted only if its signature verifies against the authorization server's
published keys (fetched once, cached, refetched when an unknown `kid` appears), its
algorithm is on the allow-list, `typ` is `at+jwt`, and `iss`, `aud`, `exp` and `nbf` hold.
Routes declare the scope they need; handlers read the caller from `principal(request)`.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from starlette.requests import Request

from services.common.oauth import KeySetDocument
from services.common.problems import Problem, not_found

ALLOWED_ALGORITHMS = ("ES256",)
ACCESS_TOKEN_TYPE = "at+jwt"  # noqa: S105 - a media type, not a secret
AUDIENCE_PREFIX = "urn:staysaga:"
CLOCK_LEEWAY_SECONDS = 30
JWKS_MIN_REFRESH_SECONDS = 10.0
# Tokens already verified, kept until they expire: a service calling with the same token
# all day pays for one ES256 check, not one per request.
VERIFIED_TOKENS_KEPT = 10_000


def audience(component: str) -> str:
    """The `aud` value naming a service as a token's resource server."""
    return AUDIENCE_PREFIX + component


@dataclass(frozen=True)
class Principal:
    """Who called: a traveller (sub = user id) or a service (sub = its client id)."""

    subject: str
    client_id: str
    scopes: frozenset[str]
    token_id: str

    @property
    def is_service(self) -> bool:
        """A client-credentials token: the client acts for itself, not for a user."""
        return self.subject == self.client_id

    def has(self, scope: str) -> bool:
        """Whether the token carries `scope`."""
        return scope in self.scopes


class TokenRejected(Problem):
    """401 with WWW-Authenticate, saying why the token is not acceptable."""

    def __init__(self, description: str, error: str = "invalid_token") -> None:
        challenge = f'Bearer error="{error}", error_description="{description}"'
        if error == "missing_token":
            challenge = 'Bearer realm="staysaga"'
        super().__init__(
            401,
            "unauthorized",
            "A valid access token is required.",
            description,
            headers={"WWW-Authenticate": challenge},
        )


class ScopeMissing(Problem):
    """403: the token is good but does not allow this route."""

    def __init__(self, scope: str) -> None:
        super().__init__(
            403,
            "insufficient-scope",
            "Your token does not allow this.",
            f"This needs the scope {scope!r}.",
            headers={"WWW-Authenticate": f'Bearer error="insufficient_scope", scope="{scope}"'},
            scope=scope,
        )


class JwksCache:
    """The authorization server's public keys, refetched at most every few seconds."""

    def __init__(self, fetch: Callable[[], Awaitable[dict[str, Any]]]) -> None:
        self._fetch = fetch
        self._keys: KeySet | None = None
        self._fetched_at = 0.0
        self._lock = asyncio.Lock()

    @classmethod
    def from_url(cls, url: str, timeout: float = 5.0) -> JwksCache:
        """Keys fetched over HTTP from a JWKS URL."""

        async def fetch() -> dict[str, Any]:
            async with httpx.AsyncClient(timeout=timeout) as client:
                response = await client.get(url)
                response.raise_for_status()
                return KeySetDocument.model_validate_json(response.content).model_dump()

        return cls(fetch)

    async def key_set(self, kid: str) -> KeySet | None:
        """A key set holding `kid`, refetching once if the cached one lacks it."""
        if self._keys is not None and self._has(kid):
            return self._keys
        async with self._lock:
            stale = time.monotonic() - self._fetched_at > JWKS_MIN_REFRESH_SECONDS
            if self._keys is None or (not self._has(kid) and stale):
                try:
                    document = await self._fetch()
                except Exception:
                    raise Problem(
                        503,
                        "auth-unavailable",
                        "Cannot check tokens right now.",
                        "The signing keys could not be fetched.",
                        headers={"Retry-After": "5"},
                    ) from None
                self._keys = KeySet.import_key_set(document)  # type: ignore[arg-type]
                self._fetched_at = time.monotonic()
        return self._keys if self._has(kid) else None

    def _has(self, kid: str) -> bool:
        assert self._keys is not None
        return any(key.kid == kid for key in self._keys.keys)


def _header(token: str) -> dict[str, Any]:
    try:
        segment = token.split(".")[0]
        padded = segment + "=" * (-len(segment) % 4)
        header = json.loads(base64.urlsafe_b64decode(padded))
    except (ValueError, IndexError, RecursionError):
        raise TokenRejected("malformed token") from None
    if not isinstance(header, dict):
        raise TokenRejected("malformed token")
    return header


class TokenVerifier:
    """Verifies access tokens for one resource server (one audience)."""

    def __init__(self, issuer: str, audience: str, jwks: JwksCache) -> None:
        self.issuer = issuer
        self.audience = audience
        self.jwks = jwks
        self._verified: dict[str, tuple[Principal, float]] = {}

    async def verify(self, token: str) -> Principal:
        """The principal behind a valid token, or TokenRejected.

        A token's signature and claims are checked once; until it expires, the same token
        again is answered from memory (only its expiry is checked again).
        """
        known = self._verified.get(token)
        if known is not None:
            if time.time() <= known[1] + CLOCK_LEEWAY_SECONDS:
                return known[0]
            del self._verified[token]
        found, expires_at = await self._check(token)
        if len(self._verified) >= VERIFIED_TOKENS_KEPT:
            # Dicts keep insertion order: forget the oldest.
            del self._verified[next(iter(self._verified))]
        self._verified[token] = (found, expires_at)
        return found

    async def _check(self, token: str) -> tuple[Principal, float]:
        header = _header(token)
        # The header is the sender's JSON: any field may be of any type.
        alg, typ = header.get("alg"), header.get("typ")
        if not isinstance(alg, str) or alg not in ALLOWED_ALGORITHMS:
            raise TokenRejected("algorithm not allowed")
        if not isinstance(typ, str) or typ.lower() not in (ACCESS_TOKEN_TYPE, "application/at+jwt"):
            raise TokenRejected("not an access token")
        kid = header.get("kid")
        if not isinstance(kid, str):
            raise TokenRejected("no key id")
        keys = await self.jwks.key_set(kid)
        if keys is None:
            raise TokenRejected("unknown signing key")
        try:
            decoded = jwt.decode(token, keys, algorithms=list(ALLOWED_ALGORITHMS))
            registry = jwt.JWTClaimsRegistry(
                leeway=CLOCK_LEEWAY_SECONDS,
                iss={"essential": True, "value": self.issuer},
                aud={"essential": True, "value": self.audience},
                exp={"essential": True},
                sub={"essential": True},
                client_id={"essential": True},
                jti={"essential": True},
            )
            registry.validate(decoded.claims)
        except JoseError as exc:
            raise TokenRejected(_describe(exc)) from None
        claims = decoded.claims
        found = Principal(
            subject=str(claims["sub"]),
            client_id=str(claims["client_id"]),
            scopes=frozenset(str(claims.get("scope", "")).split()),
            token_id=str(claims["jti"]),
        )
        return found, float(claims["exp"])


def _describe(exc: JoseError) -> str:
    text = getattr(exc, "error", "") or type(exc).__name__
    if "expired" in text or "ExpiredToken" in type(exc).__name__:
        return "token expired"
    if "claim" in text or "Claim" in type(exc).__name__:
        return f"claim check failed: {getattr(exc, 'claim', '') or text}"
    return "signature check failed"


def bearer_token(request: Request) -> str:
    """The token of the Authorization header, or a 401 saying it is missing."""
    value = request.headers.get("authorization", "")
    scheme, _, token = value.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise TokenRejected("no bearer token", error="missing_token")
    return token.strip()


async def authenticate(request: Request, scope: str) -> Principal:
    """Verify the request's token and check it carries `scope`; remember the principal."""
    verifier: TokenVerifier = request.app.state.token_verifier
    found = await verifier.verify(bearer_token(request))
    if not found.has(scope):
        raise ScopeMissing(scope)
    request.state.principal = found
    return found


def principal(request: Request) -> Principal:
    """The caller of a protected route (set by `authenticate`)."""
    found: Principal = request.state.principal
    return found


def ensure_owner(who: Principal, owner_id: str, what: str, key: Any) -> None:
    """A traveller may see only their own resources: anyone else's looks like a 404.

    Services (client-credentials tokens) pass; their scopes already limit them.
    """
    if not who.is_service and who.subject != owner_id:
        raise not_found(what, key)
