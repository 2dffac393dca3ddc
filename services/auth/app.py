"""The authorization server's app: its routes, declared once (OpenAPI and problem documents
from the same list), and the token, revocation and introspection endpoints authlib answers.
The documents about the server (JWKS, metadata, discovery, userinfo) are in `discovery.py`;
the sign-in pages in `sign_in.py`."""

from __future__ import annotations

import logging

import httpx
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from components.settings import load_settings
from services.auth import api
from services.auth.adapter import Snapshot, oauth_server, respond, snapshot
from services.auth.discovery import jwks_document, metadata, openid_configuration, userinfo
from services.auth.domain import OAuthServer
from services.auth.keys import ACCESS_TOKEN_TTL, ensure_signing_key, now_utc
from services.auth.oauth_clients import CLIENTS, TEMPORAL_UI_CALLBACK_PATH, ClientRegistry
from services.auth.params import basic_credentials_readable, malformed_parameter
from services.auth.settings import AuthSettings
from services.auth.sign_in import authorize_form, authorize_submit
from services.auth.store import purge_expired
from services.auth.throttle import SignInThrottle
from services.auth.tokens import mint_access_token
from services.common.app import create_service_app
from services.common.http import ServiceConnections, TokenSource
from services.common.openapi import Endpoint
from services.common.settings import Settings

log = logging.getLogger("staysaga.auth")
SELF_CLIENT = "auth"


def _malformed(snap: Snapshot) -> Response | None:
    """The OAuth error for a request authlib cannot be trusted with, or None."""
    if not basic_credentials_readable(snap.headers):
        return JSONResponse(
            {"error": "invalid_client", "error_description": "Unreadable Basic credentials."},
            status_code=401,
            headers={"WWW-Authenticate": 'Basic error="invalid_client"'},
        )
    name = malformed_parameter(snap.query + snap.form)
    if name is not None:
        return JSONResponse(
            {"error": "invalid_request", "error_description": f"Malformed '{name}'."},
            status_code=400,
        )
    return None


async def token(request: Request) -> Response:
    """POST /oauth2/token: client_credentials, authorization_code (+PKCE), refresh_token."""
    snap = await snapshot(request)
    refused = _malformed(snap)
    if refused is not None:
        return refused
    return respond(await run_in_threadpool(oauth_server(request).create_token_response, snap))


async def revoke(request: Request) -> Response:
    """POST /oauth2/revoke (RFC 7009)."""
    snap = await snapshot(request)
    refused = _malformed(snap)
    if refused is not None:
        return refused
    oauth = oauth_server(request)
    return respond(await run_in_threadpool(oauth.create_endpoint_response, "revocation", snap))


async def introspect(request: Request) -> Response:
    """POST /oauth2/introspect (RFC 7662), for the clients the registry lets introspect."""
    snap = await snapshot(request)
    refused = _malformed(snap)
    if refused is not None:
        return refused
    oauth = oauth_server(request)
    return respond(await run_in_threadpool(oauth.create_endpoint_response, "introspection", snap))


ENDPOINTS = (
    Endpoint(
        "POST",
        api.TOKEN_PATH,
        token,
        "Issue tokens (form: grant_type client_credentials | authorization_code | "
        "refresh_token; resource=urn:staysaga:<component>)",
        form=api.TokenForm,
        response=api.TokenResponse,
        errors=(400, 401),
        error_media="application/json",
        error_model=api.OAuthError,
    ),
    Endpoint(
        "GET",
        api.AUTHORIZE_PATH,
        authorize_form,
        "Sign-in page of the authorization code flow (PKCE S256 required)",
        query=api.AuthorizationRequest,
        errors=(302, 400),
        error_media="text/html",
    ),
    Endpoint(
        "POST",
        api.AUTHORIZE_PATH,
        authorize_submit,
        "Submit the sign-in form; redirects to the website with a code",
        form=api.SignInForm,
        status=302,
        errors=(400, 401, 429, 503),
        error_media="text/html",
    ),
    Endpoint(
        "POST",
        api.REVOKE_PATH,
        revoke,
        "Revoke a token (RFC 7009); a refresh token takes its whole family along",
        form=api.TokenReference,
        errors=(400, 401),
        error_media="application/json",
        error_model=api.OAuthError,
    ),
    Endpoint(
        "POST",
        api.INTROSPECT_PATH,
        introspect,
        "Introspect a token (RFC 7662), for the clients the registry lets introspect",
        form=api.TokenReference,
        response=api.IntrospectionResponse,
        errors=(400, 401, 403),
        error_media="application/json",
        error_model=api.OAuthError,
    ),
    Endpoint(
        "GET",
        api.USERINFO_PATH,
        userinfo,
        "OpenID Connect userinfo: `sub`, and name and e-mail for the scopes granted "
        "(Authorization: Bearer, a token granted `openid`)",
        errors=(401,),
        error_media="application/json",
        error_model=api.OAuthError,
    ),
    Endpoint(
        "POST",
        api.USERINFO_PATH,
        userinfo,
        "OpenID Connect userinfo, as GET",
        errors=(401,),
        error_media="application/json",
        error_model=api.OAuthError,
    ),
    Endpoint(
        "GET", api.JWKS_PATH, jwks_document, "Public signing keys", response=api.JsonWebKeySet
    ),
    Endpoint(
        "GET",
        api.OPENID_CONFIGURATION_PATH,
        openid_configuration,
        "OpenID Connect discovery",
        response=api.OpenIDConfiguration,
    ),
    Endpoint(
        "GET",
        api.METADATA_PATH,
        metadata,
        "Authorization server metadata (RFC 8414)",
        response=api.ServerMetadata,
    ),
)


def self_token_source(app: Starlette) -> TokenSource:
    """The auth service's own service tokens (to call Users), minted locally."""

    async def mint(aud: str, scopes: str) -> tuple[str, float]:
        if not set(scopes.split()) <= CLIENTS[SELF_CLIENT].service_scopes:
            raise RuntimeError(f"the auth service may not ask for {scopes!r}")
        oauth: OAuthServer = app.state.oauth
        keys = await oauth.keyring.keys()
        value = mint_access_token(
            keys, oauth.clock(), oauth.issuer, (aud,), SELF_CLIENT, SELF_CLIENT, scopes
        )
        return value, ACCESS_TOKEN_TTL.total_seconds()

    return mint


def create_app(
    settings: Settings | None = None,
    *,
    users_http: httpx.AsyncClient | None = None,
    signin_throttle: SignInThrottle | None = None,
) -> Starlette:
    """The authorization server ASGI app; `users_http` lets tests reach a stand-in Users."""
    settings = settings or load_settings()

    async def start(app: Starlette) -> None:
        await ensure_signing_key(app.state.engine)
        await purge_expired(app.state.engine, now_utc())
        auth_settings = settings.of(AuthSettings)
        registry = ClientRegistry.from_json(
            auth_settings.client_secrets,
            settings.url("web"),
            auth_settings.temporal_ui_callback
            or settings.temporal_ui_url + TEMPORAL_UI_CALLBACK_PATH,
        )
        if not registry.known():
            log.warning("AUTH_CLIENT_SECRETS names no client: no one can get a token")
        app.state.oauth = OAuthServer(app.state.engine, registry, settings.auth_issuer)
        app.state.signin_throttle = signin_throttle or SignInThrottle.configured(auth_settings)
        app.state.connections = ServiceConnections(
            settings, tokens=self_token_source(app), http=users_http
        )

    async def stop(app: Starlette) -> None:
        if users_http is None:
            await app.state.connections.aclose()

    return create_service_app(
        "auth",
        settings,
        ENDPOINTS,
        title="staysaga Authentication",
        migrations="services.auth.migrations",
        on_startup=[start],
        on_shutdown=[stop],
    )
