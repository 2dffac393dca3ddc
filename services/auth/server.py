"""authlib's OAuth 2 machinery behind Starlette: the adapter, the grants, the endpoints.

authlib's server code is synchronous. Each OAuth request is copied into a `Snapshot` on
the event loop (body read, headers kept), then handed to authlib in a worker thread
(`starlette.concurrency.run_in_threadpool`). When authlib's hooks need the database they
hop back onto the event loop with `anyio.from_thread.run`, using the service's one async
engine: no second, synchronous engine or driver, and the loop never blocks on authlib.

One module because authlib's grants, endpoints and server share one adapter and its
thread-to-loop bridge.
"""

from __future__ import annotations

import secrets
import time
import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar, cast

import anyio.from_thread
from authlib.oauth2 import AuthorizationServer, OAuth2Error, OAuth2Request
from authlib.oauth2.rfc6749 import grants
from authlib.oauth2.rfc6749.errors import (
    InvalidGrantError,
    InvalidRequestError,
    InvalidScopeError,
)
from authlib.oauth2.rfc6749.requests import OAuth2Payload
from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oauth2.rfc7662 import IntrospectionEndpoint
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.datastructures import Headers
from starlette.requests import Request

from components.registry import COMPONENTS
from services.auth import store
from services.auth.clients import (
    AUTHORIZATION_CODE,
    CLIENT_CREDENTIALS,
    Client,
    ClientRegistry,
)
from services.auth.keys import (
    ACCESS_TOKEN_TTL,
    KeyRing,
    active_key,
    now_utc,
    published,
)
from services.common.auth import ACCESS_TOKEN_TYPE, AUDIENCE_PREFIX

T = TypeVar("T")
CLIENT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]


@dataclass(frozen=True)
class Snapshot:
    """An HTTP request read on the event loop, safe to hand to a worker thread."""

    method: str
    path: str
    headers: Headers
    query: list[tuple[str, str]]
    form: list[tuple[str, str]]


async def snapshot(request: Request) -> Snapshot:
    """Copy what authlib needs from a Starlette request (reads a form body)."""
    form: list[tuple[str, str]] = []
    if request.method == "POST":
        parsed = await request.form()
        form = [(k, v) for k, v in parsed.multi_items() if isinstance(v, str)]
    return Snapshot(
        request.method,
        request.url.path,
        request.headers,
        list(request.query_params.multi_items()),
        form,
    )


class _Payload(OAuth2Payload):
    def __init__(self, pairs: Sequence[tuple[str, str]]) -> None:
        self._datalist: defaultdict[str, list[str]] = defaultdict(list)
        for key, value in pairs:
            self._datalist[key].append(value)
        self._data = {key: values[0] for key, values in self._datalist.items()}

    @property
    def data(self) -> dict[str, str]:
        return self._data

    @property
    def datalist(self) -> defaultdict[str, list[str]]:
        return self._datalist


class StarletteOAuth2Request(OAuth2Request):
    """authlib's request over a Snapshot: query and form parameters both count."""

    def __init__(self, snap: Snapshot, uri: str) -> None:
        super().__init__(snap.method, uri, headers=snap.headers)
        self.payload = _Payload(snap.query + snap.form)
        self._args = dict(snap.query)
        self._form = dict(snap.form)
        self.audiences: tuple[str, ...] = ()

    @property
    def args(self) -> dict[str, str]:
        """Query parameters (first value each)."""
        return self._args

    @property
    def form(self) -> dict[str, str]:
        """Form parameters (first value each)."""
        return self._form


class InvalidTargetError(OAuth2Error):
    """RFC 8707: the `resource` names no service we issue tokens for."""

    error = "invalid_target"
    status_code = 400


@dataclass(frozen=True)
class User:
    """The traveller a code or refresh token belongs to."""

    user_id: str


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


def _requested_audiences(request: OAuth2Request) -> list[str]:
    """The RFC 8707 `resource` parameters, each checked to name a component of ours."""
    found = request.payload.datalist.get("resource", [])
    for value in found:
        component = value.removeprefix(AUDIENCE_PREFIX)
        if not value.startswith(AUDIENCE_PREFIX) or component not in COMPONENTS:
            raise InvalidTargetError(f"Unknown resource {value!r}.")
    return list(dict.fromkeys(found))


def _narrow(requested: list[str], allowed: Sequence[str]) -> tuple[str, ...]:
    """The audiences asked for (all allowed ones by default), refusing any beyond them."""
    if not requested:
        return tuple(allowed)
    if not set(requested) <= set(allowed):
        raise InvalidTargetError("A requested resource was not granted.")
    return tuple(requested)


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
        self.register_grant(AuthorizationCodeGrant, [S256CodeChallenge(required=True)])
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
        family = previous.family_id if isinstance(previous, store.RefreshToken) else None
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
        requested = _requested_audiences(request)
        if grant_type == CLIENT_CREDENTIALS:
            if not requested:
                raise InvalidTargetError("Name the service: resource=urn:staysaga:<component>.")
            audiences = tuple(requested)
        elif grant_type == AUTHORIZATION_CODE:
            audiences = _narrow(requested, request.authorization_code.audiences)
        else:
            audiences = _narrow(requested, request.refresh_token.audiences)
        request.audiences = audiences
        subject = client.client_id if user is None else user.user_id
        keys = self.call(self.keyring.keys)
        access = mint_access_token(
            keys, self.clock(), self.issuer, audiences, subject, client.client_id, scope or ""
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


def mint_access_token(
    keys: list[Any],
    now: datetime,
    issuer: str,
    audiences: Sequence[str],
    subject: str,
    client_id: str,
    scope: str,
) -> str:
    """Sign an RFC 9068 access token with the active key."""
    key = active_key(keys, now)
    issued = int(now.timestamp())
    claims = {
        "iss": issuer,
        "aud": audiences[0] if len(audiences) == 1 else list(audiences),
        "sub": subject,
        "client_id": client_id,
        "scope": scope,
        "jti": uuid.uuid4().hex,
        "iat": issued,
        "nbf": issued,
        "exp": issued + int(ACCESS_TOKEN_TTL.total_seconds()),
    }
    header = {"alg": "ES256", "typ": ACCESS_TOKEN_TYPE, "kid": key.kid}
    return jwt.encode(header, claims, key.key, algorithms=["ES256"])


class _Issuing:
    """Grants issue through OAuthServer.issue, which also sees the request (for `resource`)."""

    request: StarletteOAuth2Request
    server: OAuthServer
    GRANT_TYPE: str

    def generate_token(
        self,
        user: User | None = None,
        scope: str | None = None,
        grant_type: str | None = None,
        expires_in: int | None = None,
        include_refresh_token: bool = True,
    ) -> dict[str, Any]:
        return self.server.issue(
            self.request,
            grant_type or self.GRANT_TYPE,
            self.request.client,
            user,
            scope,
            include_refresh_token,
        )

    def validate_requested_scope(self) -> None:
        """Refuse (rather than silently narrow) a scope the client may not have."""
        scope = self.request.payload.scope
        allowed = self.request.client.scopes_for_grant(self.GRANT_TYPE)
        if scope and not set(scope.split()) <= allowed:
            raise InvalidScopeError()


class ClientCredentialsGrant(_Issuing, grants.ClientCredentialsGrant):
    """A service or worker gets a token for itself, for one service (`resource`)."""

    TOKEN_ENDPOINT_AUTH_METHODS = CLIENT_AUTH_METHODS


class AuthorizationCodeGrant(_Issuing, grants.AuthorizationCodeGrant):
    """The website's sign-in: code + PKCE, codes single-use and short-lived."""

    TOKEN_ENDPOINT_AUTH_METHODS = CLIENT_AUTH_METHODS

    def validate_authorization_request(self) -> str:
        """authlib's checks, plus the `resource`s asked for must be ones the website may use."""
        redirect_uri = super().validate_authorization_request()
        self.request.audiences = _narrow(
            _requested_audiences(self.request), self.request.client.spec.user_audiences
        )
        return str(redirect_uri)

    def save_authorization_code(self, code: str, request: StarletteOAuth2Request) -> None:
        """Store the code's hash with its PKCE challenge, scopes and audiences."""
        data = request.payload.data
        if not request.audiences:
            request.audiences = _narrow(
                _requested_audiences(request), request.client.spec.user_audiences
            )
        self.server.call(
            store.save_code,
            self.server.engine,
            code,
            store.AuthorizationCode(
                request.client.client_id,
                request.user.user_id,
                data.get("redirect_uri") or request.client.get_default_redirect_uri(),
                request.scope or "",
                request.audiences,
                data["code_challenge"],
                data["code_challenge_method"],
            ),
            self.server.clock(),
        )

    def query_authorization_code(self, code: str, client: Client) -> store.AuthorizationCode | None:
        """Redeem the code atomically: a second use finds nothing."""
        return self.server.call(
            store.redeem_code, self.server.engine, code, client.client_id, self.server.clock()
        )

    def delete_authorization_code(self, authorization_code: store.AuthorizationCode) -> None:
        """Already marked used when redeemed."""

    def authenticate_user(self, authorization_code: store.AuthorizationCode) -> User:
        """The traveller who signed in."""
        return User(authorization_code.user_id)


class S256CodeChallenge(CodeChallenge):
    """PKCE, required, S256 only (`plain` is refused: OWASP ASVS 5.0 10.4.6)."""

    DEFAULT_CODE_CHALLENGE_METHOD = "S256"
    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]

    def validate_code_challenge(self, grant: Any, redirect_uri: str) -> None:
        """A challenge with method S256 must come with every authorization request."""
        data = grant.request.payload.data
        if not data.get("code_challenge"):
            raise InvalidRequestError("PKCE is required: send a code_challenge.")
        if data.get("code_challenge_method") != "S256":
            raise InvalidRequestError("Only code_challenge_method=S256 is accepted.")
        super().validate_code_challenge(grant, redirect_uri)

    def validate_code_verifier(self, grant: Any, result: Any) -> None:
        """Every code exchange must prove possession of the verifier."""
        if not grant.request.form.get("code_verifier"):
            raise InvalidRequestError("Missing 'code_verifier'.")
        super().validate_code_verifier(grant, result)


class RefreshTokenGrant(_Issuing, grants.RefreshTokenGrant):
    """Refresh tokens rotate; presenting a used one revokes its whole family."""

    TOKEN_ENDPOINT_AUTH_METHODS = CLIENT_AUTH_METHODS
    INCLUDE_NEW_REFRESH_TOKEN = True

    def validate_requested_scope(self) -> None:
        """authlib checks the scope against the refresh token's own."""

    def authenticate_refresh_token(self, refresh_token: str) -> store.RefreshToken | None:
        """A live refresh token; a used one is a replay: its family is revoked."""
        found = self.server.call(store.find_refresh_token, self.server.engine, refresh_token)
        if found is None:
            return None
        if found.rotated_at is not None:
            self.server.call(
                store.revoke_family, self.server.engine, found.family_id, self.server.clock()
            )
            return None
        if found.revoked_at is not None or found.expires_at <= self.server.clock():
            return None
        return found

    def authenticate_user(self, refresh_token: store.RefreshToken) -> User:
        """The traveller the token belongs to."""
        return User(refresh_token.user_id)

    def revoke_old_credential(self, refresh_token: store.RefreshToken) -> None:
        """Use the old token up; if a concurrent request beat us, treat it as a replay."""
        engine, now = self.server.engine, self.server.clock()
        if not self.server.call(store.mark_rotated, engine, refresh_token.token_hash, now):
            self.server.call(store.revoke_family, engine, refresh_token.family_id, now)
            raise InvalidGrantError("The refresh token was already used.")


class Revocation(RevocationEndpoint):
    """RFC 7009. Revoking a refresh token revokes its family; an access token is marked."""

    CLIENT_AUTH_METHODS = CLIENT_AUTH_METHODS

    def query_token(self, token_string: str, token_type_hint: str | None) -> Any:
        """Our access token (JWT) or refresh token with that value."""
        return self.server.find_token(token_string, token_type_hint)

    def revoke_token(self, token: Any, request: OAuth2Request) -> None:
        """Revoke it."""
        server: OAuthServer = self.server
        if isinstance(token, store.RefreshToken):
            server.call(store.revoke_family, server.engine, token.family_id, server.clock())
        else:
            expires = datetime.fromtimestamp(int(token.claims["exp"]), tz=server.clock().tzinfo)
            server.call(store.revoke_access_token, server.engine, token.claims["jti"], expires)


class Introspection(IntrospectionEndpoint):
    """RFC 7662, for authenticated (confidential) clients only."""

    CLIENT_AUTH_METHODS = CLIENT_AUTH_METHODS

    def query_token(self, token_string: str, token_type_hint: str | None) -> Any:
        """Our access token (JWT) or refresh token with that value."""
        return self.server.find_token(token_string, token_type_hint)

    def check_permission(self, token: Any, client: Client, request: OAuth2Request) -> bool:
        """Every client of ours is confidential and has just authenticated."""
        return True

    def introspect_token(self, token: Any) -> dict[str, Any]:
        """The token's metadata (RFC 7662 section 2.2)."""
        if isinstance(token, store.RefreshToken):
            return {
                "active": True,
                "token_type": "refresh_token",
                "scope": token.scope,
                "client_id": token.client_id,
                "sub": token.user_id,
                "aud": list(token.audiences),
                "iss": self.server.issuer,
                "iat": int(token.issued_at.timestamp()),
                "exp": int(token.expires_at.timestamp()),
            }
        claims = token.claims
        return {
            "active": True,
            "token_type": "Bearer",
            **{k: claims[k] for k in ("scope", "client_id", "sub", "aud", "iss", "iat", "exp")},
            "jti": claims["jti"],
        }
