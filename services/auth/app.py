"""The authorization server's routes: token, authorize (the sign-in page), revoke,
introspect, userinfo, the JWKS, the RFC 8414 metadata and OpenID Connect discovery."""

from __future__ import annotations

import logging
from typing import Any, cast

import httpx
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response

from components.settings import load_settings
from services.auth import api
from services.auth.adapter import Snapshot, snapshot
from services.auth.domain import OAuthServer
from services.auth.grants import CLIENT_AUTH_METHODS
from services.auth.keys import ACCESS_TOKEN_TTL, ensure_signing_key, jwks, load_keys, now_utc
from services.auth.login import (
    CSRF_COOKIE,
    CSRF_FIELD,
    LOGIN_FIELDS,
    ROLE_REFUSED,
    SIGNUP_TICKET,
    SIGNUP_TICKET_REFUSED,
    TOO_MANY,
    UNAVAILABLE,
    WRONG_CREDENTIALS,
    InvalidCredentials,
    check_credentials,
    csrf_ok,
    error_page,
    login_page,
    new_csrf_pair,
    same_origin,
    signed_up_account,
)
from services.auth.oauth_clients import (
    AUTHORIZATION_CODE,
    CLIENT_CREDENTIALS,
    CLIENTS,
    REFRESH_TOKEN,
    TEMPORAL_UI_CALLBACK_PATH,
    ClientRegistry,
    all_scopes,
)
from services.auth.params import basic_credentials_readable, malformed_parameter
from services.auth.settings import AuthSettings
from services.auth.store import Profile, purge_expired
from services.auth.throttle import SignInThrottle
from services.auth.tokens import User, mint_access_token
from services.common.app import create_service_app, model_response
from services.common.auth import TokenRejected, bearer_token
from services.common.http import ServiceConnections, ServiceError, TokenSource, TransportError
from services.common.openapi import Endpoint
from services.common.settings import Settings

log = logging.getLogger("staysaga.auth")
SELF_CLIENT = "auth"


def _oauth(request: Request) -> OAuthServer:
    return cast(OAuthServer, request.app.state.oauth)


def _respond(result: tuple[int, Any, Any]) -> Response:
    status, body, headers = result
    extra = {k: v for k, v in (headers or []) if k.lower() != "content-type"}
    if isinstance(body, dict | list):
        return JSONResponse(body, status_code=status, headers=extra)
    return Response(body or b"", status_code=status, headers=extra)


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
    return _respond(await run_in_threadpool(_oauth(request).create_token_response, snap))


async def revoke(request: Request) -> Response:
    """POST /oauth2/revoke (RFC 7009)."""
    snap = await snapshot(request)
    refused = _malformed(snap)
    if refused is not None:
        return refused
    oauth = _oauth(request)
    return _respond(await run_in_threadpool(oauth.create_endpoint_response, "revocation", snap))


async def introspect(request: Request) -> Response:
    """POST /oauth2/introspect (RFC 7662), for the clients the registry lets introspect."""
    snap = await snapshot(request)
    refused = _malformed(snap)
    if refused is not None:
        return refused
    oauth = _oauth(request)
    return _respond(await run_in_threadpool(oauth.create_endpoint_response, "introspection", snap))


async def jwks_document(request: Request) -> JSONResponse:
    """GET /.well-known/jwks.json: the keys services verify tokens with."""
    keys = await load_keys(request.app.state.engine)
    return JSONResponse(
        jwks(keys, _oauth(request).clock()), headers={"Cache-Control": "public, max-age=60"}
    )


async def metadata(request: Request) -> JSONResponse:
    """GET /.well-known/oauth-authorization-server (RFC 8414)."""
    issuer = _oauth(request).issuer
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
    issuer = _oauth(request).issuer
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
    claims = await run_in_threadpool(_oauth(request).userinfo, value)
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


def _page(
    body: str,
    status: int = 200,
    headers: dict[str, str] | None = None,
    form_action: str = "'self'",
) -> HTMLResponse:
    security = {
        "Cache-Control": "no-store",
        "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
        f"form-action {form_action}; frame-ancestors 'none'",
        "X-Frame-Options": "DENY",
        "Referrer-Policy": "no-referrer",
    }
    return HTMLResponse(body, status_code=status, headers={**security, **(headers or {})})


async def _form_page(
    request: Request,
    params: list[tuple[str, str]],
    status: int = 200,
    email: str = "",
    error: str | None = None,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    nonce, csrf = new_csrf_pair(await _oauth(request).keyring.keys(), now_utc())
    # Browsers apply form-action to the redirect that follows the sign-in POST as well:
    # the clients' callbacks (the website's, the Temporal UI's) must be allowed, or the code
    # never reaches them.
    website = request.app.state.settings.url("web")
    page = login_page(params, csrf, email, error, site=website)
    callbacks = " ".join(_oauth(request).registry.redirect_origins())
    response = _page(page, status, headers, f"'self' {callbacks}")
    response.set_cookie(
        CSRF_COOKIE,
        nonce,
        path=api.AUTHORIZE_PATH,
        httponly=True,
        samesite="strict",
        secure=_oauth(request).issuer.startswith("https://"),
    )
    return response


def _malformed_page(name: str) -> HTMLResponse:
    """An authorization request with a malformed parameter: never redirected anywhere."""
    return _page(error_page(f"This sign-in link is not valid: malformed '{name}'."), 400)


def _refused(result: tuple[int, Any, Any]) -> Response:
    """An invalid authorization request: back to the website if it is safe, else a page."""
    status, body, _headers = result
    if status == 302:
        return _respond(result)
    description = body.get("error_description") if isinstance(body, dict) else None
    return _page(error_page(f"This sign-in link is not valid. {description or ''}".strip()), 400)


async def authorize_form(request: Request) -> Response:
    """GET /oauth2/authorize: check the website's request, then show the sign-in form; with
    a sign-up ticket (`signup_ticket`) from Users, sign the new account in at once."""
    snap = await snapshot(request)
    malformed = malformed_parameter(snap.query)
    if malformed is not None:
        return _malformed_page(malformed)
    ticket = dict(snap.query).get(SIGNUP_TICKET)
    params = [(k, v) for k, v in snap.query if k != SIGNUP_TICKET]
    snap = Snapshot(snap.method, snap.path, snap.headers, params, snap.form)
    refused = await run_in_threadpool(_oauth(request).check_authorization_request, snap)
    if refused is not None:
        return _refused(refused)
    if ticket is not None:
        return await _sign_in_after_sign_up(request, snap, ticket)
    return await _form_page(request, snap.query)


async def _sign_in_after_sign_up(request: Request, snap: Snapshot, ticket: str) -> Response:
    """A code for the account just created, if Users made the ticket for this request's
    code challenge: whoever holds the ticket but not the session that started the request
    (its PKCE verifier and state) gets a code nobody can redeem for them."""
    challenge = dict(snap.query).get("code_challenge", "")
    if not challenge:
        # The ticket is bound to a code challenge: without one it signs nobody in.
        return await _form_page(request, snap.query, 400, error=SIGNUP_TICKET_REFUSED)
    try:
        account = await signed_up_account(request.app.state.connections, ticket, challenge)
    except InvalidCredentials:
        return await _form_page(request, snap.query, 400, error=SIGNUP_TICKET_REFUSED)
    except (ServiceError, TransportError) as exc:
        log.warning("cannot redeem a sign-up ticket with Users: %s", exc)
        return await _form_page(request, snap.query, 503, error=UNAVAILABLE)
    user = User(account.user_id, account.roles)
    refused = _role_refused(snap, user)
    if refused is not None:
        return refused
    return _respond(await run_in_threadpool(_oauth(request).authorize, snap, user))


def _role_refused(snap: Snapshot, user: User) -> HTMLResponse | None:
    """A page for an account without the role its client signs in (only operators sign in
    to the Temporal UI), or None: no code, and nothing sent back to that client."""
    spec = CLIENTS.get(dict(snap.query).get("client_id", ""))
    if spec is None or spec.required_role is None or spec.required_role in user.roles:
        return None
    log.info(
        "sign-in refused: %s lacks the role %s for %s",
        user.user_id,
        spec.required_role,
        spec.client_id,
    )
    return _page(error_page(ROLE_REFUSED), 403)


async def authorize_submit(request: Request) -> Response:
    """POST /oauth2/authorize: check the password with Users, then redirect with a code."""
    form = await request.form()
    pairs = [(k, v) for k, v in form.multi_items() if isinstance(v, str)]
    params = [(k, v) for k, v in pairs if k not in LOGIN_FIELDS]
    malformed = malformed_parameter(params)
    if malformed is not None:
        return _malformed_page(malformed)
    snap = Snapshot("GET", api.AUTHORIZE_PATH, request.headers, params, [])
    oauth = _oauth(request)
    refused = await run_in_threadpool(oauth.check_authorization_request, snap)
    if refused is not None:
        return _refused(refused)
    email = str(form.get("email", "")).strip().lower()
    password = str(form.get("password", ""))
    keys = await _oauth(request).keyring.keys()
    posted_here = same_origin(request.headers, oauth.issuer)
    if not posted_here or not csrf_ok(
        keys, request.cookies.get(CSRF_COOKIE), str(form.get(CSRF_FIELD, ""))
    ):
        return await _form_page(
            request, params, 400, email, "Your sign-in form expired. Please try again."
        )
    throttle: SignInThrottle = request.app.state.signin_throttle
    # The peer, or the address a trusted proxy (STAYSAGA_TRUSTED_PROXIES) vouches for.
    address = request.client.host if request.client else "unknown"
    wait = await throttle.retry_after(email, address)
    if wait is not None:
        return await _form_page(request, params, 429, email, TOO_MANY, {"Retry-After": str(wait)})
    try:
        account = await check_credentials(request.app.state.connections, email, password)
    except InvalidCredentials:
        await throttle.failed(email, address)
        return await _form_page(request, params, 401, email, WRONG_CREDENTIALS)
    except (ServiceError, TransportError) as exc:
        log.warning("cannot check credentials with Users: %s", exc)
        return await _form_page(request, params, 503, email, UNAVAILABLE, {"Retry-After": "5"})
    await throttle.succeeded(email, address)
    user = User(
        account.user_id, account.roles, Profile(account.name, email, account.email_verified)
    )
    not_allowed = _role_refused(snap, user)
    if not_allowed is not None:
        not_allowed.delete_cookie(CSRF_COOKIE, path=api.AUTHORIZE_PATH)
        return not_allowed
    result = await run_in_threadpool(oauth.authorize, snap, user)
    response = _respond(result)
    response.delete_cookie(CSRF_COOKIE, path=api.AUTHORIZE_PATH)
    return response


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
