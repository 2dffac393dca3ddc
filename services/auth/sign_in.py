"""The sign-in pages of the authorization code flow: `GET /oauth2/authorize` checks the
client's request and shows the form (or signs a new account in with its sign-up ticket),
`POST /oauth2/authorize` checks the password with Users and redirects with a code."""

from __future__ import annotations

import logging
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from services.auth import api
from services.auth.adapter import Snapshot, oauth_server, respond, snapshot
from services.auth.keys import now_utc
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
from services.auth.oauth_clients import CLIENTS
from services.auth.params import malformed_parameter
from services.auth.store import Profile
from services.auth.throttle import SignInThrottle
from services.auth.tokens import User
from services.common.http import ServiceError, TransportError

log = logging.getLogger("staysaga.auth")


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
    nonce, csrf = new_csrf_pair(await oauth_server(request).keyring.keys(), now_utc())
    # Browsers apply form-action to the redirect that follows the sign-in POST as well:
    # the clients' callbacks (the website's, the Temporal UI's) must be allowed, or the code
    # never reaches them.
    website = request.app.state.settings.url("web")
    page = login_page(params, csrf, email, error, site=website)
    callbacks = " ".join(oauth_server(request).registry.redirect_origins())
    response = _page(page, status, headers, f"'self' {callbacks}")
    response.set_cookie(
        CSRF_COOKIE,
        nonce,
        path=api.AUTHORIZE_PATH,
        httponly=True,
        samesite="strict",
        secure=oauth_server(request).issuer.startswith("https://"),
    )
    return response


def _malformed_page(name: str) -> HTMLResponse:
    """An authorization request with a malformed parameter: never redirected anywhere."""
    return _page(error_page(f"This sign-in link is not valid: malformed '{name}'."), 400)


def _refused(result: tuple[int, Any, Any]) -> Response:
    """An invalid authorization request: back to the website if it is safe, else a page."""
    status, body, _headers = result
    if status == 302:
        return respond(result)
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
    refused = await run_in_threadpool(oauth_server(request).check_authorization_request, snap)
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
    return respond(await run_in_threadpool(oauth_server(request).authorize, snap, user))


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
    oauth = oauth_server(request)
    refused = await run_in_threadpool(oauth.check_authorization_request, snap)
    if refused is not None:
        return _refused(refused)
    email = str(form.get("email", "")).strip().lower()
    password = str(form.get("password", ""))
    keys = await oauth_server(request).keyring.keys()
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
    response = respond(result)
    response.delete_cookie(CSRF_COOKIE, path=api.AUTHORIZE_PATH)
    return response
