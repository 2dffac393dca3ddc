"""The auth service's public contract: the OAuth 2 documents it serves.

OAuth endpoints take `application/x-www-form-urlencoded` and answer RFC 6749 JSON
(`{"error": ..., "error_description": ...}` on failure), as the protocol requires.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

TOKEN_PATH = "/oauth2/token"  # noqa: S105 - a path
AUTHORIZE_PATH = "/oauth2/authorize"
REVOKE_PATH = "/oauth2/revoke"
INTROSPECT_PATH = "/oauth2/introspect"
JWKS_PATH = "/.well-known/jwks.json"
METADATA_PATH = "/.well-known/oauth-authorization-server"
OPENID_CONFIGURATION_PATH = "/.well-known/openid-configuration"
USERINFO_PATH = "/oauth2/userinfo"
# OpenID Connect's scopes (`profile` is Users' own constant): `openid` makes a sign-in an
# OpenID Connect one (an ID token, the userinfo endpoint), `email` adds the address.
OPENID = "openid"
EMAIL = "email"
# The grants the token endpoint issues by, and the one kind of sign-in it answers: a code,
# asked for with an S256 PKCE challenge.
CLIENT_CREDENTIALS = "client_credentials"
AUTHORIZATION_CODE = "authorization_code"
REFRESH_TOKEN = "refresh_token"  # noqa: S105 - a grant type name
CODE = "code"
S256 = "S256"


class TokenResponse(BaseModel):
    """POST /oauth2/token answers this (RFC 6749 section 5.1)."""

    access_token: str
    token_type: str
    expires_in: int
    scope: str
    refresh_token: str | None = None
    id_token: str | None = Field(None, description="OpenID Connect sign-ins (scope openid)")


class IntrospectionResponse(BaseModel):
    """POST /oauth2/introspect answers this (RFC 7662 section 2.2); only `active` if not."""

    active: bool
    token_type: str | None = None
    scope: str | None = None
    client_id: str | None = None
    sub: str | None = None
    aud: str | list[str] | None = None
    iss: str | None = None
    iat: int | None = None
    exp: int | None = None
    jti: str | None = None


class JsonWebKeySet(BaseModel):
    """GET /.well-known/jwks.json: the public ES256 keys that sign access tokens."""

    keys: list[dict[str, str]]


class ServerMetadata(BaseModel):
    """GET /.well-known/oauth-authorization-server (RFC 8414)."""

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    revocation_endpoint: str
    introspection_endpoint: str
    scopes_supported: list[str]
    response_types_supported: list[str]
    response_modes_supported: list[str]
    grant_types_supported: list[str]
    token_endpoint_auth_methods_supported: list[str]
    revocation_endpoint_auth_methods_supported: list[str]
    introspection_endpoint_auth_methods_supported: list[str]
    code_challenge_methods_supported: list[str]


class OpenIDConfiguration(BaseModel):
    """GET /.well-known/openid-configuration (OpenID Connect Discovery 1.0 section 3)."""

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    userinfo_endpoint: str
    jwks_uri: str
    revocation_endpoint: str
    scopes_supported: list[str]
    response_types_supported: list[str]
    response_modes_supported: list[str]
    grant_types_supported: list[str]
    subject_types_supported: list[str]
    id_token_signing_alg_values_supported: list[str]
    token_endpoint_auth_methods_supported: list[str]
    claims_supported: list[str]
    code_challenge_methods_supported: list[str]


class OAuthError(BaseModel):
    """An OAuth error (RFC 6749 section 5.2): what the token, revocation and introspection
    endpoints answer on failure."""

    error: str
    error_description: str | None = None


class TokenForm(BaseModel):
    """POST /oauth2/token form (RFC 6749, RFC 7636, RFC 8707); the client authenticates with
    HTTP Basic (or client_id and client_secret here)."""

    grant_type: str = Field(description="client_credentials, authorization_code or refresh_token")
    scope: str | None = None
    resource: str | None = Field(None, description="urn:staysaga:<component>")
    code: str | None = None
    redirect_uri: str | None = None
    code_verifier: str | None = None
    refresh_token: str | None = None
    client_id: str | None = None
    client_secret: str | None = None


class TokenReference(BaseModel):
    """POST /oauth2/revoke and /oauth2/introspect form (RFC 7009, RFC 7662)."""

    token: str
    token_type_hint: str | None = Field(None, description="access_token or refresh_token")


class AuthorizationRequest(BaseModel):
    """GET /oauth2/authorize query (RFC 6749 section 4.1.1 with PKCE S256, RFC 8707)."""

    response_type: str = Field(description="code")
    client_id: str
    redirect_uri: str | None = None
    scope: str | None = None
    state: str | None = None
    code_challenge: str | None = Field(
        None,
        description="Required (PKCE, S256), but for an OpenID Connect sign-in (scope openid, "
        "a nonce) of a client allowed to bind it by its nonce: the Temporal UI",
    )
    code_challenge_method: str | None = Field(None, description="S256")
    resource: str | None = None
    nonce: str | None = Field(None, description="OpenID Connect: echoed in the ID token")
    signup_ticket: str | None = Field(
        None,
        description="From Users' answer to a sign-up whose signin_challenge is this "
        "request's code_challenge: signs the new account in without the form",
    )


class SignInForm(AuthorizationRequest):
    """POST /oauth2/authorize form: the authorization request and the traveller's sign-in."""

    email: str
    password: str
    csrf_token: str
