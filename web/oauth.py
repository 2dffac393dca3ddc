"""The website as an OAuth 2 client of the auth service: authorization code + PKCE (S256).

Tokens live only in the server-side session. The user id is the access token's `sub`:
the token comes straight from the token endpoint over the back channel, so the website
reads its claims without verifying them (it is not the token's audience; the services
that are verify it).
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import secrets
import time
from collections.abc import Awaitable
from dataclasses import dataclass, replace
from typing import Any

import httpx

from services.auth import api as auth_api
from services.auth.client import AuthClient, oauth_error
from services.common.auth import audience
from services.common.http import HttpxTransport, ServiceError, TransportError
from services.common.settings import Settings
from services.pdf import api as pdf_api
from services.users import api as users_api

log = logging.getLogger("staysaga.web.oauth")

# What a traveller's token is for: the one call the website makes with it, fetching their
# own receipts from the PDF service. Everything else goes through the website's own
# service token (accounts, availability) or the saga (holds, payments).
USER_SCOPES = pdf_api.READ
USER_RESOURCE = audience("pdf")
# What an operator's sign-in asks for besides: the operator pages (/ops). The auth server
# grants them only to operators; anyone else signing in this way gets a traveller's token.
OPERATOR_SCOPES = f"{users_api.OPS_READ} {users_api.OPS_WRITE}"
REFRESH_MARGIN_SECONDS = 30


class OAuthError(Exception):
    """The auth service refused or failed a token request."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def new_verifier() -> str:
    """A PKCE code verifier: 43 characters of randomness."""
    return _b64(secrets.token_bytes(32))


def challenge(verifier: str) -> str:
    """The S256 code challenge of a verifier."""
    return _b64(hashlib.sha256(verifier.encode()).digest())


def claims(access_token: str) -> dict[str, Any]:
    """An access token's claims, unverified (see the module docstring)."""
    try:
        payload = access_token.split(".")[1]
        decoded = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError) as exc:
        raise OAuthError("the access token is not a JWT") from exc
    if not isinstance(decoded, dict) or not decoded.get("sub"):
        raise OAuthError("the access token names no subject")
    return decoded


@dataclass(frozen=True)
class Tokens:
    """What the token endpoint gave a signed-in traveller."""

    access_token: str
    refresh_token: str | None
    expires_at: float
    user_id: str
    name: str | None = None
    scopes: tuple[str, ...] = ()

    def as_session(self) -> dict[str, Any]:
        """The form kept in the session."""
        return {
            "access_token": self.access_token,
            "refresh_token": self.refresh_token,
            "expires_at": self.expires_at,
            "user_id": self.user_id,
            "name": self.name,
            "scopes": list(self.scopes),
        }


class OAuthClient:
    """The website's sign-ins at the auth service, as OAuth client `web`: authorize, token
    and revoke through the auth server's client."""

    def __init__(self, settings: Settings, http: httpx.AsyncClient) -> None:
        self.settings = settings
        self.http = http
        self.redirect_uri = f"{settings.url('web')}/auth/callback"
        self.auth = AuthClient(
            settings.url("auth"),
            settings.common.client_id or "web",
            settings.common.client_secret or "",
            HttpxTransport(http),
            token_url=settings.auth_token_url,
        )

    def authorize_url(
        self, state: str, verifier: str, operator: bool = False, signup_ticket: str | None = None
    ) -> str:
        """Where to send the browser to log in (as an operator: asking for their scopes too;
        right after sign-up, with Users' ticket, which signs the new account in)."""
        request = auth_api.AuthorizationRequest(
            response_type=auth_api.CODE,
            client_id=self.auth.client_id,
            redirect_uri=self.redirect_uri,
            scope=f"{USER_SCOPES} {OPERATOR_SCOPES}" if operator else USER_SCOPES,
            resource=USER_RESOURCE,
            state=state,
            code_challenge=challenge(verifier),
            code_challenge_method=auth_api.S256,
            signup_ticket=signup_ticket,
        )
        return self.auth.authorize_url(request)

    async def _tokens(self, grant: Awaitable[auth_api.TokenResponse]) -> Tokens:
        try:
            issued = await grant
        except TransportError as exc:
            why = type(exc.__cause__ or exc).__name__
            raise OAuthError(f"the auth service did not answer: {why}") from exc
        except ServiceError as exc:
            refusal = oauth_error(exc)
            error = refusal.error if refusal else ""
            raise OAuthError(f"the token endpoint said {exc.status} {error}".strip()) from exc
        found = claims(issued.access_token)
        return Tokens(
            access_token=issued.access_token,
            refresh_token=issued.refresh_token,
            expires_at=time.time() + issued.expires_in,
            user_id=str(found["sub"]),
            name=found.get("name"),
            scopes=tuple(str(found.get("scope") or "").split()),
        )

    async def exchange(self, code: str, verifier: str) -> Tokens:
        """Trade an authorization code (and its verifier) for tokens."""
        return await self._tokens(self.auth.exchange_code(code, self.redirect_uri, verifier))

    async def refresh(self, refresh_token: str) -> Tokens:
        """New tokens from a refresh token (the same one again if none came back)."""
        tokens = await self._tokens(self.auth.refresh(refresh_token))
        return replace(tokens, refresh_token=tokens.refresh_token or refresh_token)

    async def revoke(self, token: str, hint: str) -> None:
        """Revoke a token (RFC 7009); a failure is logged, never shown: logout goes on."""
        try:
            await self.auth.revoke(auth_api.TokenReference(token=token, token_type_hint=hint))
        except ServiceError as exc:
            log.warning("revoking a %s answered %s", hint, exc.status)
        except TransportError as exc:
            log.warning("revoking a %s failed: %s", hint, type(exc.__cause__ or exc).__name__)
