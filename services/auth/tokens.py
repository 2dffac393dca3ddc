"""The tokens we issue: RFC 9068 access tokens, and the audiences (RFC 8707) they name."""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from authlib.oauth2 import OAuth2Error, OAuth2Request
from joserfc import jwt

from components.registry import COMPONENTS
from services.auth.keys import ACCESS_TOKEN_TTL, active_key
from services.auth.store import Profile
from services.common.auth import ACCESS_TOKEN_TYPE, AUDIENCE_PREFIX


class InvalidTargetError(OAuth2Error):
    """RFC 8707: the `resource` names no service we issue tokens for."""

    error = "invalid_target"
    status_code = 400


@dataclass(frozen=True)
class User:
    """The traveller a code or refresh token belongs to, and (at sign-in) their roles and
    what Users said of them (for an OpenID Connect sign-in's ID token)."""

    user_id: str
    roles: tuple[str, ...] = ()
    profile: Profile | None = None


@dataclass(frozen=True)
class AccessToken:
    """One of our JWT access tokens, decoded (for revocation and introspection)."""

    claims: dict[str, Any]
    revoked: bool

    def check_client(self, client: object) -> bool:
        """Only the client it was issued to may revoke it."""
        return getattr(client, "client_id", None) == self.claims.get("client_id")

    def get_scope(self) -> str:
        """Its scopes."""
        return str(self.claims.get("scope", ""))

    def get_expires_in(self) -> int:
        """Its lifetime in seconds."""
        return int(self.claims["exp"]) - int(self.claims["iat"])

    def is_expired(self) -> bool:
        """Past its expiry."""
        return int(self.claims["exp"]) <= time.time()

    def is_revoked(self) -> bool:
        """Revoked through the revocation endpoint."""
        return self.revoked


def requested_audiences(request: OAuth2Request) -> list[str]:
    """The RFC 8707 `resource` parameters, each checked to name a component of ours."""
    found = request.payload.datalist.get("resource", [])
    for value in found:
        component = value.removeprefix(AUDIENCE_PREFIX)
        if not value.startswith(AUDIENCE_PREFIX) or component not in COMPONENTS:
            raise InvalidTargetError(f"Unknown resource {value!r}.")
    return list(dict.fromkeys(found))


def narrow(requested: list[str], allowed: Sequence[str]) -> tuple[str, ...]:
    """The audiences asked for (all allowed ones by default), refusing any beyond them."""
    if not requested:
        return tuple(allowed)
    if not set(requested) <= set(allowed):
        raise InvalidTargetError("A requested resource was not granted.")
    return tuple(requested)


def mint_access_token(
    keys: list[Any],
    now: datetime,
    issuer: str,
    audiences: Sequence[str],
    subject: str,
    client_id: str,
    scope: str,
    jti: str | None = None,
) -> str:
    """Sign an RFC 9068 access token with the active key (`jti`: a fresh one by default)."""
    key = active_key(keys, now)
    issued = int(now.timestamp())
    claims = {
        "iss": issuer,
        "aud": audiences[0] if len(audiences) == 1 else list(audiences),
        "sub": subject,
        "client_id": client_id,
        "scope": scope,
        "jti": jti or uuid.uuid4().hex,
        "iat": issued,
        "nbf": issued,
        "exp": issued + int(ACCESS_TOKEN_TTL.total_seconds()),
    }
    header = {"alg": "ES256", "typ": ACCESS_TOKEN_TYPE, "kid": key.kid}
    return jwt.encode(header, claims, key.key, algorithms=["ES256"])
