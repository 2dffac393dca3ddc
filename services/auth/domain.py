"""authlib's OAuth 2 machinery behind Starlette: the adapter, the grants, the endpoints.

authlib's server code is synchronous. Each OAuth request is copied into a `Snapshot` on
the event loop (body read, headers kept), then handed to authlib in a worker thread
(`starlette.concurrency.run_in_threadpool`). When authlib's hooks need the database they
hop back onto the event loop with `anyio.from_thread.run`, using the service's one async
engine: no second, synchronous engine or driver, and the loop never blocks on authlib.

The grants and endpoints are in `grants`, the request adapter in `adapter`, the tokens
in `tokens`.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, TypeVar, cast

import anyio.from_thread
from authlib.oauth2 import AuthorizationServer, OAuth2Error, OAuth2Request
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from sqlalchemy.ext.asyncio import AsyncEngine

from services.auth import store
from services.auth.adapter import Snapshot, StarletteOAuth2Request
from services.auth.api import AUTHORIZATION_CODE, CLIENT_CREDENTIALS, OPENID
from services.auth.grants import (
    AuthorizationCodeGrant,
    ClientCredentialsGrant,
    Introspection,
    OpenIDConnect,
    RefreshTokenGrant,
    Revocation,
    S256CodeChallenge,
    user_info,
)
from services.auth.keys import ACCESS_TOKEN_TTL, KeyRing, now_utc, published
from services.auth.oauth_clients import Client, ClientRegistry
from services.auth.tokens import (
    AccessToken,
    InvalidTargetError,
    User,
    mint_access_token,
    narrow,
    requested_audiences,
)
from services.common.auth import CLOCK_LEEWAY_SECONDS

T = TypeVar("T")


class OAuthServer(AuthorizationServer):
    """authlib's AuthorizationServer for Starlette: clients from env, tokens as ES256 JWTs."""

    def __init__(
        self,
        engine: AsyncEngine,
        registry: ClientRegistry,
        issuer: str,
        clock: Callable[[], datetime] = now_utc,
    ) -> None:
        super().__init__()
        self.engine = engine
        self.registry = registry
        self.issuer = issuer
        self.clock = clock
        self.keyring = KeyRing(engine)
        self.register_grant(ClientCredentialsGrant)
        self.register_grant(
            AuthorizationCodeGrant, [S256CodeChallenge(required=True), OpenIDConnect(self)]
        )
        self.register_grant(RefreshTokenGrant)
        self.register_endpoint(Revocation)
        self.register_endpoint(Introspection)

    # --- bridging to the event loop -------------------------------------------------

    def call(self, function: Callable[..., Awaitable[T]], *args: Any, **kwargs: Any) -> T:
        """Run a coroutine function on the event loop from authlib's worker thread."""

        async def run() -> T:
            return await function(*args, **kwargs)

        return anyio.from_thread.run(run)

    # --- what authlib asks of a framework integration ----------------------------------

    def query_client(self, client_id: str) -> Client | None:
        """A configured client (one with a secret), or None."""
        return self.registry.get(client_id)

    def create_oauth2_request(self, request: Any) -> OAuth2Request:
        """Wrap a Snapshot; the URI is the public one (authlib checks it is TLS or loopback)."""
        if isinstance(request, OAuth2Request):
            return request
        return StarletteOAuth2Request(request, self.issuer + request.path)

    def create_json_request(self, request: Any) -> Any:
        """No endpoint of ours takes JSON."""
        raise NotImplementedError

    def handle_response(self, status: int, body: Any, headers: Any) -> tuple[int, Any, Any]:
        """Hand (status, body, headers) back; the Starlette side builds the response."""
        return status, body, headers

    def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
        """authlib's signals are not used."""

    def save_token(self, token: dict[str, Any], request: OAuth2Request) -> None:
        """Store the refresh token (in its family); access tokens are self-contained."""
        refresh = token.get("refresh_token")
        if not refresh:
            return
        previous = request.refresh_token
        code = request.authorization_code
        family = previous.family_id if isinstance(previous, store.RefreshToken) else None
        if isinstance(code, store.AuthorizationCode):
            family = store.issued_from_code(code.code_hash)[0]
        self.call(
            store.save_refresh_token,
            self.engine,
            refresh,
            family_id=family or str(uuid.uuid4()),
            client_id=request.client.client_id,
            user_id=request.user.user_id,
            scope=token.get("scope", ""),
            audiences=request.audiences,
            now=self.clock(),
        )
        if isinstance(code, store.AuthorizationCode):
            # A replay of the code while this exchange ran found no refresh token to revoke
            # yet, but marked the access token revoked: revoke the family now.
            jti = store.issued_from_code(code.code_hash)[1]
            if self.call(store.access_token_revoked, self.engine, jti):
                self.call(store.revoke_family, self.engine, family, self.clock())

    # --- tokens -------------------------------------------------------------------------

    def issue(
        self,
        request: StarletteOAuth2Request,
        grant_type: str,
        client: Client,
        user: User | None,
        scope: str | None,
        include_refresh_token: bool,
    ) -> dict[str, Any]:
        """An RFC 9068 access token (and, for the website, a refresh token)."""
        requested = requested_audiences(request)
        if grant_type == CLIENT_CREDENTIALS:
            if not requested:
                raise InvalidTargetError("Name the service: resource=urn:staysaga:<component>.")
            audiences = tuple(requested)
        elif grant_type == AUTHORIZATION_CODE:
            audiences = narrow(requested, request.authorization_code.audiences)
        else:
            audiences = narrow(requested, request.refresh_token.audiences)
        request.audiences = audiences
        subject = client.client_id if user is None else user.user_id
        keys = self.call(self.keyring.keys)
        jti = None
        if grant_type == AUTHORIZATION_CODE:
            jti = store.issued_from_code(request.authorization_code.code_hash)[1]
        access = mint_access_token(
            keys, self.clock(), self.issuer, audiences, subject, client.client_id, scope or "", jti
        )
        token: dict[str, Any] = {
            "access_token": access,
            "token_type": "Bearer",
            "expires_in": int(ACCESS_TOKEN_TTL.total_seconds()),
            "scope": scope or "",
        }
        if include_refresh_token and grant_type != CLIENT_CREDENTIALS:
            token["refresh_token"] = secrets.token_urlsafe(32)
        return token

    def find_token(self, value: str, hint: str | None) -> AccessToken | store.RefreshToken | None:
        """A token of ours by its value: a JWT we signed, or a stored refresh token."""
        if hint != "refresh_token" and value.count(".") == 2:
            access = self._decode_access(value)
            if access is not None:
                return access
        return self.call(store.find_refresh_token, self.engine, value)

    def userinfo(self, value: str) -> dict[str, Any] | None:
        """The userinfo claims (OpenID Connect Core 5.3) an access token may read: it must be
        ours, live, unrevoked and granted `openid`; None if not."""
        access = self._decode_access(value)
        if access is None or access.revoked:
            return None
        now = self.clock().timestamp()
        claims = access.claims
        if not int(claims.get("nbf", 0)) - CLOCK_LEEWAY_SECONDS <= now < int(claims["exp"]):
            return None
        scope = access.get_scope()
        if OPENID not in scope.split():
            return None
        subject = str(claims["sub"])
        profile = self.call(store.load_profile, self.engine, subject)
        return dict(user_info(subject, scope, profile))

    def _decode_access(self, value: str) -> AccessToken | None:
        keys = published(self.call(self.keyring.keys), self.clock())
        try:
            decoded = jwt.decode(value, KeySet([k.key for k in keys]), algorithms=["ES256"])
        except (JoseError, ValueError):
            return None
        if decoded.claims.get("iss") != self.issuer or "jti" not in decoded.claims:
            return None
        revoked = self.call(store.access_token_revoked, self.engine, decoded.claims["jti"])
        return AccessToken(decoded.claims, revoked)

    # --- the authorization endpoint, called by the login page -------------------------------

    def check_authorization_request(self, snap: Snapshot) -> tuple[int, Any, Any] | None:
        """None if the authorization request is valid, else authlib's error response."""
        request = self.create_oauth2_request(snap)
        try:
            self.get_consent_grant(request=request)
        except OAuth2Error as error:
            return cast(tuple[int, Any, Any], self.handle_error_response(request, error))
        return None

    def authorize(self, snap: Snapshot, user: User) -> tuple[int, Any, Any]:
        """Issue a code for a signed-in traveller (first-party client: no consent step)."""
        request = self.create_oauth2_request(snap)
        try:
            grant = self.get_consent_grant(request=request, end_user=user)
        except OAuth2Error as error:
            return cast(tuple[int, Any, Any], self.handle_error_response(request, error))
        return cast(
            tuple[int, Any, Any],
            self.create_authorization_response(request=request, grant_user=user, grant=grant),
        )
