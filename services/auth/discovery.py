"""The authorization server's documents about itself and its users: the JWKS, the RFC 8414
metadata, OpenID Connect discovery and userinfo."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse

from services.auth import api
from services.auth.adapter import oauth_server
from services.auth.api import AUTHORIZATION_CODE, CLIENT_CREDENTIALS, REFRESH_TOKEN
from services.auth.grants import CLIENT_AUTH_METHODS
from services.auth.keys import jwks, load_keys
from services.auth.oauth_clients import all_scopes
from services.common.app import model_response
from services.common.auth import TokenRejected, bearer_token


async def jwks_document(request: Request) -> JSONResponse:
    """GET /.well-known/jwks.json: the keys services verify tokens with."""
    keys = await load_keys(request.app.state.engine)
    return JSONResponse(
        jwks(keys, oauth_server(request).clock()), headers={"Cache-Control": "public, max-age=60"}
    )


async def metadata(request: Request) -> JSONResponse:
    """GET /.well-known/oauth-authorization-server (RFC 8414)."""
    issuer = oauth_server(request).issuer
    return model_response(
        api.ServerMetadata(
            issuer=issuer,
            authorization_endpoint=issuer + api.AUTHORIZE_PATH,
            token_endpoint=issuer + api.TOKEN_PATH,
            jwks_uri=issuer + api.JWKS_PATH,
            revocation_endpoint=issuer + api.REVOKE_PATH,
            introspection_endpoint=issuer + api.INTROSPECT_PATH,
            scopes_supported=all_scopes(),
            response_types_supported=["code"],
            response_modes_supported=["query"],
            grant_types_supported=[AUTHORIZATION_CODE, REFRESH_TOKEN, CLIENT_CREDENTIALS],
            token_endpoint_auth_methods_supported=CLIENT_AUTH_METHODS,
            revocation_endpoint_auth_methods_supported=CLIENT_AUTH_METHODS,
            introspection_endpoint_auth_methods_supported=CLIENT_AUTH_METHODS,
            code_challenge_methods_supported=["S256"],
        )
    )


# The claims an ID token or userinfo answer may hold (each beyond `sub` only for its scope).
CLAIMS_SUPPORTED = [
    "iss",
    "sub",
    "aud",
    "exp",
    "iat",
    "auth_time",
    "nonce",
    "at_hash",
    "name",
    "email",
    "email_verified",
]


async def openid_configuration(request: Request) -> JSONResponse:
    """GET /.well-known/openid-configuration (OpenID Connect Discovery 1.0)."""
    issuer = oauth_server(request).issuer
    return model_response(
        api.OpenIDConfiguration(
            issuer=issuer,
            authorization_endpoint=issuer + api.AUTHORIZE_PATH,
            token_endpoint=issuer + api.TOKEN_PATH,
            userinfo_endpoint=issuer + api.USERINFO_PATH,
            jwks_uri=issuer + api.JWKS_PATH,
            revocation_endpoint=issuer + api.REVOKE_PATH,
            scopes_supported=all_scopes(),
            response_types_supported=["code"],
            response_modes_supported=["query"],
            grant_types_supported=[AUTHORIZATION_CODE, REFRESH_TOKEN],
            subject_types_supported=["public"],
            id_token_signing_alg_values_supported=["ES256"],
            token_endpoint_auth_methods_supported=CLIENT_AUTH_METHODS,
            claims_supported=CLAIMS_SUPPORTED,
            code_challenge_methods_supported=["S256"],
        )
    )


async def userinfo(request: Request) -> JSONResponse:
    """GET or POST /oauth2/userinfo: who the bearer of an OpenID Connect access token is."""
    try:
        value = bearer_token(request)
    except TokenRejected:
        return _bearer_refused("invalid_request", "Send the access token: Authorization: Bearer.")
    claims = await run_in_threadpool(oauth_server(request).userinfo, value)
    if claims is None:
        return _bearer_refused("invalid_token", "Not a live access token granted 'openid'.")
    return JSONResponse(claims, headers={"Cache-Control": "no-store"})


def _bearer_refused(error: str, description: str) -> JSONResponse:
    """RFC 6750 section 3: 401 with the error in WWW-Authenticate."""
    return JSONResponse(
        {"error": error, "error_description": description},
        status_code=401,
        headers={"WWW-Authenticate": f'Bearer error="{error}"', "Cache-Control": "no-store"},
    )
