"""authlib's grants and endpoints as the auth server runs them.

Every grant issues through `OAuthServer.issue`, and reaches the database through the
server's thread-to-loop bridge (`OAuthServer.call`).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from authlib.oauth2 import OAuth2Error, OAuth2Request
from authlib.oauth2.rfc6749 import grants
from authlib.oauth2.rfc6749.errors import InvalidGrantError, InvalidRequestError, InvalidScopeError
from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oauth2.rfc7662 import IntrospectionEndpoint
from authlib.oidc.core import OpenIDCode, UserInfo
from joserfc.jwk import ECKey

from services.auth import store
from services.auth.adapter import StarletteOAuth2Request
from services.auth.api import EMAIL, OPENID
from services.auth.keys import ID_TOKEN_TTL, active_key
from services.auth.oauth_clients import Client
from services.auth.tokens import User, narrow, requested_audiences
from services.users.api import PROFILE

if TYPE_CHECKING:
    from services.auth.domain import OAuthServer


CLIENT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]


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
        self.request.audiences = narrow(
            requested_audiences(self.request), self.request.client.spec.user_audiences
        )
        return str(redirect_uri)

    def save_authorization_code(self, code: str, request: StarletteOAuth2Request) -> None:
        """Store the code's hash with its PKCE challenge, scopes and audiences: a role's
        scopes (an operator's) only if the account holds the role, else left out."""
        data = request.payload.data
        scope = request.client.spec.scopes_for_roles(request.scope or "", request.user.roles)
        if not request.audiences:
            request.audiences = narrow(
                requested_audiences(request), request.client.spec.user_audiences
            )
        now = self.server.clock()
        openid = OPENID in scope.split()
        profile = request.user.profile
        if openid and profile is not None:
            self.server.call(
                store.save_profile, self.server.engine, request.user.user_id, profile, now
            )
        self.server.call(
            store.save_code,
            self.server.engine,
            code,
            store.AuthorizationCode(
                request.client.client_id,
                request.user.user_id,
                data.get("redirect_uri") or request.client.get_default_redirect_uri(),
                scope,
                request.audiences,
                data.get("code_challenge") or "",
                data.get("code_challenge_method") or "",
                nonce=data.get("nonce") if openid else None,
                auth_time=now if openid else None,
            ),
            now,
        )

    def query_authorization_code(self, code: str, client: Client) -> store.AuthorizationCode | None:
        """Redeem the code atomically: a second use finds nothing, and revokes the tokens the
        first use was given (RFC 6749 section 4.1.2: the code may have been stolen)."""
        engine = self.server.engine
        found = self.server.call(
            store.redeem_code, engine, code, client.client_id, self.server.clock()
        )
        if found is None:
            self.server.call(store.revoke_issued_from, engine, code, client.client_id)
        return found

    def delete_authorization_code(self, authorization_code: store.AuthorizationCode) -> None:
        """Already marked used when redeemed."""

    def authenticate_user(self, authorization_code: store.AuthorizationCode) -> User:
        """The traveller who signed in."""
        return User(authorization_code.user_id)


class OpenIDConnect(OpenIDCode):
    """OpenID Connect on the code grant: with `openid` granted, the token response carries
    an ID token signed like access tokens (the active key, in the JWKS), for the client
    (`aud`), with the request's nonce and the sign-in's time; its claims beyond `sub` follow
    the scopes granted. A nonce is single-use per client."""

    def __init__(self, server: OAuthServer) -> None:
        super().__init__(require_nonce=False)
        self.server = server

    def exists_nonce(self, nonce: str, request: OAuth2Request) -> bool:
        """Whether a code was already issued for this nonce (a replayed request)."""
        client_id = request.payload.client_id or ""
        return self.server.call(store.nonce_used, self.server.engine, client_id, nonce)

    def _key(self) -> tuple[ECKey, str]:
        found = active_key(self.server.call(self.server.keyring.keys), self.server.clock())
        return found.key, found.kid

    def resolve_client_private_key(self, client: Client) -> ECKey:
        """The key that signs access tokens now."""
        return self._key()[0]

    def get_client_algorithm(self, client: Client) -> str:
        """ES256, as for access tokens."""
        return "ES256"

    def get_encode_header(self, client: Client) -> dict[str, str]:
        """The signing key's id, so a client finds it in the JWKS."""
        return {"alg": "ES256", "typ": "JWT", "kid": self._key()[1]}

    def get_client_claims(self, client: Client) -> dict[str, Any]:
        """Issuer, the client as audience, issued and expiry times by the server's clock."""
        issued = int(self.server.clock().timestamp())
        return {
            "iss": self.server.issuer,
            "aud": client.client_id,
            "iat": issued,
            "exp": issued + int(ID_TOKEN_TTL.total_seconds()),
        }

    def generate_user_info(self, user: User, scope: str) -> UserInfo:
        """`sub`, and what the granted scopes allow of the person's profile."""
        profile = self.server.call(store.load_profile, self.server.engine, user.user_id)
        return user_info(user.user_id, scope, profile)


def user_info(user_id: str, scope: str, profile: store.Profile | None) -> UserInfo:
    """The claims about a person a token with `scope` may see (ID token, userinfo)."""
    granted = set(scope.split())
    info = UserInfo(sub=user_id)
    if profile is not None and PROFILE in granted and profile.name:
        info["name"] = profile.name
    if profile is not None and EMAIL in granted and profile.email:
        info["email"] = profile.email
        info["email_verified"] = profile.email_verified
    return info


def _nonce_instead(client: Client | None, scope: str | None, data: dict[str, str]) -> bool:
    """Whether an authorization request without PKCE is bound by an OpenID Connect nonce, for
    a confidential client allowed that (RFC 9700 section 2.1.1: the Temporal UI's server,
    which sends a nonce but no code challenge)."""
    return (
        client is not None
        and client.spec.nonce_instead_of_pkce
        and OPENID in (scope or "").split()
        and bool(data.get("nonce"))
    )


class S256CodeChallenge(CodeChallenge):
    """PKCE, required, S256 only (`plain` is refused: OWASP ASVS 5.0 10.4.6); a client whose
    spec allows it may bind an OpenID Connect sign-in with a nonce instead."""

    DEFAULT_CODE_CHALLENGE_METHOD = "S256"
    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]

    def validate_code_challenge(self, grant: Any, redirect_uri: str) -> None:
        """A challenge with method S256 must come with every authorization request, but for
        a client allowed to bind its OpenID Connect sign-in with a nonce instead."""
        data = grant.request.payload.data
        unbound = not data.get("code_challenge") and not data.get("code_challenge_method")
        if unbound and _nonce_instead(grant.request.client, grant.request.payload.scope, data):
            return
        if not data.get("code_challenge"):
            raise InvalidRequestError("PKCE is required: send a code_challenge.")
        if data.get("code_challenge_method") != "S256":
            raise InvalidRequestError("Only code_challenge_method=S256 is accepted.")
        super().validate_code_challenge(grant, redirect_uri)

    def validate_code_verifier(self, grant: Any, result: Any) -> None:
        """Every code exchange must prove possession of the verifier (unless its request was
        bound by a nonce instead: then a verifier is refused, RFC 9700 section 4.8)."""
        code = grant.request.authorization_code
        if isinstance(code, store.AuthorizationCode) and not code.code_challenge:
            super().validate_code_verifier(grant, result)
            return
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


class IntrospectionNotAllowedError(OAuth2Error):
    """The client authenticated, but the registry does not let it introspect tokens."""

    error = "unauthorized_client"
    description = "This client may not introspect tokens."
    status_code = 403


class Introspection(IntrospectionEndpoint):
    """RFC 7662, only for the clients the registry lets introspect (INTROSPECTION_CLIENTS)."""

    CLIENT_AUTH_METHODS = CLIENT_AUTH_METHODS

    def authenticate_endpoint_client(self, request: OAuth2Request) -> Client:
        """The authenticated client, refused (403) unless it may introspect."""
        client: Client = super().authenticate_endpoint_client(request)
        if not client.spec.introspects:
            raise IntrospectionNotAllowedError()
        return client

    def query_token(self, token_string: str, token_type_hint: str | None) -> Any:
        """Our access token (JWT) or refresh token with that value."""
        return self.server.find_token(token_string, token_type_hint)

    def check_permission(self, token: Any, client: Client, request: OAuth2Request) -> bool:
        """A client that may introspect sees any token of ours."""
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
