"""The traveller's account: sign-in (OAuth 2 code + PKCE), sign-up, e-mail, password reset."""

from __future__ import annotations

import logging
import secrets
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from web import forms
from web.backends import BackendError
from web.oauth import OAuthClient, OAuthError, challenge, new_verifier
from web.pages.common import (
    backends_for,
    csrf_refused,
    error_page,
    flash,
    login_redirect,
    read_form,
    render,
    safe_next,
    signed_in_user,
)

log = logging.getLogger("staysaga.web")


def _start_sign_in(request: Request, verifier: str, next_url: str | None) -> str:
    """A new authorization request's state, kept in the session with its PKCE verifier
    for the callback."""
    state = secrets.token_urlsafe(24)
    request.session["oauth"] = {"state": state, "verifier": verifier, "next": safe_next(next_url)}
    return state


async def login(request: Request) -> Response:
    """GET /auth/login: off to the auth service, with PKCE and a state; `?as=operator`
    asks for the operator scopes too (granted to operators only)."""
    operator = request.query_params.get("as") == "operator"
    user = signed_in_user(request)
    if user is not None and not operator:
        # Signed in already (a link from an e-mail, an old tab): no second sign-in.
        return RedirectResponse(safe_next(request.query_params.get("next")), 303)
    oauth: OAuthClient = request.app.state.oauth
    verifier = new_verifier()
    state = _start_sign_in(request, verifier, request.query_params.get("next"))
    return RedirectResponse(oauth.authorize_url(state, verifier, operator), 303)


async def callback(request: Request) -> Response:
    """GET /auth/callback: check the state, trade the code for tokens, sign in."""
    pending = request.session.pop("oauth", None)
    state = request.query_params.get("state", "")
    if not pending or not secrets.compare_digest(pending["state"].encode(), state.encode()):
        return error_page(
            request, 400, "This login link is not valid", "Please start logging in again."
        )
    if request.query_params.get("error"):
        return error_page(
            request, 400, "Login did not complete", request.query_params.get("error", "")[:100]
        )
    code = request.query_params.get("code", "")
    if not code:
        return error_page(request, 400, "Login did not complete", "No code came back.")
    try:
        tokens = await request.app.state.oauth.exchange(code, pending["verifier"])
    except OAuthError as exc:
        log.warning("code exchange failed: %s", exc)
        return error_page(request, 502, "Login did not complete", "Please try again.")
    session = request.session
    session.rotate()  # type: ignore[attr-defined]
    session.pop("csrf", None)
    session["user"] = tokens.as_session()
    return RedirectResponse(pending["next"], 303)


async def logout(request: Request) -> Response:
    """POST /auth/logout: revoke the tokens and forget the session."""
    if await read_form(request) is None:
        return csrf_refused(request)
    user = signed_in_user(request)
    if user:
        oauth: OAuthClient = request.app.state.oauth
        if user.get("refresh_token"):
            await oauth.revoke(user["refresh_token"], "refresh_token")
        await oauth.revoke(user["access_token"], "access_token")
    request.session.invalidate()  # type: ignore[attr-defined]
    return RedirectResponse("/", 303)


async def signup(request: Request) -> Response:
    """GET/POST /signup: create an account at Users, then sign it in through the auth
    service: the authorization request carries Users' sign-up ticket, which is bound to
    its PKCE challenge, so only this session can redeem the code it brings back. Without
    `?next`, a sign-in under way (the sign-in page's "Create an account") lends its own:
    the new traveller lands where signing in would have taken them."""
    pending = request.session.get("oauth") or {}
    next_url = safe_next(request.query_params.get("next") or pending.get("next"))
    if signed_in_user(request) is not None:
        return RedirectResponse(next_url, 303)
    if request.method == "GET":
        return render(request, "signup.html", {"form": forms.Form(), "next": next_url})
    data = await read_form(request)
    if data is None:
        return csrf_refused(request)
    next_url = safe_next(str(data.get("next") or "/"))
    form = forms.signup_form(data)
    registered = None
    verifier = new_verifier()
    if form.ok:
        try:
            registered = await backends_for(request).register(
                form.values["email"],
                form.values["name"],
                form.values["password"],
                signin_challenge=challenge(verifier),
            )
        except BackendError as exc:
            if exc.status == 409:
                form.errors["email"] = "An account with this e-mail address exists: log in."
            elif exc.status in (400, 422) and exc.field in ("email", "name", "password"):
                detail = exc.problem.get("detail") or "Please check this."
                form.errors[str(exc.field)] = str(detail)
            else:
                log.warning("sign-up failed: %s", exc)
                form.errors["form"] = "We could not create your account now. Please try again."
    form.values.pop("password", None)
    if not form.ok or registered is None:
        context = {"form": form, "errors": form.errors, "next": next_url}
        return render(request, "signup.html", context, 400)
    flash(request, "Your account is ready.")
    if registered.signin_ticket is None:
        return RedirectResponse(f"/auth/login?{urlencode({'next': next_url})}", 303)
    state = _start_sign_in(request, verifier, next_url)
    oauth: OAuthClient = request.app.state.oauth
    url = oauth.authorize_url(state, verifier, signup_ticket=registered.signin_ticket)
    return RedirectResponse(url, 303)


async def verify_email(request: Request) -> Response:
    """GET /account/verify-email?token=: the link of the verification e-mail."""
    token = request.query_params.get("token", "")
    try:
        account = await backends_for(request).verify_email(token)
    except BackendError as exc:
        if exc.status in (400, 422):
            return error_page(
                request,
                400,
                "This link does not work",
                "It may have expired; log in to get a new one.",
            )
        return error_page(request, 503, "We could not check the link", "Please try again.")
    user = signed_in_user(request)
    if user is not None and user.get("user_id") == account.id:
        request.session["user"] = {**user, "email_verified": True}
    flash(request, "Your e-mail address is confirmed.")
    return RedirectResponse("/", 303)


async def resend_verification(request: Request) -> Response:
    """POST /account/verify-email/resend: e-mail the signed-in traveller's link again."""
    user = signed_in_user(request)
    if user is None:
        return login_redirect(request)
    form = await read_form(request)
    if form is None:
        return csrf_refused(request)
    try:
        await backends_for(request).resend_verification(str(user["user_id"]))
    except BackendError:
        return error_page(request, 503, "We could not send the e-mail", "Please try again.")
    flash(request, "We sent the confirmation link to your e-mail address again.")
    return RedirectResponse(safe_next(str(form.get("next") or "/")), 303)


async def forgot_password(request: Request) -> Response:
    """GET/POST /account/forgot-password: ask Users to e-mail a reset link."""
    if request.method == "GET":
        return render(request, "forgot.html", {"form": forms.Form()})
    data = await read_form(request)
    if data is None:
        return csrf_refused(request)
    email = str(data.get("email", "")).strip()
    form = forms.Form()
    form.values["email"] = email
    if "@" not in email or len(email) > 254:
        form.errors["email"] = "Enter the e-mail address of your account."
        return render(request, "forgot.html", {"form": form, "errors": form.errors}, 400)
    try:
        await backends_for(request).request_password_reset(email)
    except BackendError as exc:
        log.warning("password reset request failed: %s", exc)
        form.errors["form"] = "We could not send the e-mail now. Please try again."
        return render(request, "forgot.html", {"form": form, "errors": form.errors}, 503)
    # The same answer whether or not the account exists.
    flash(request, "If an account uses that address, a reset link is on its way.")
    return RedirectResponse("/", 303)


async def reset_password(request: Request) -> Response:
    """GET/POST /account/reset-password?token=: choose a new password from the e-mailed link."""
    token = request.query_params.get("token", "")
    if request.method == "GET":
        return render(request, "reset.html", {"form": forms.Form(), "token": token})
    data = await read_form(request)
    if data is None:
        return csrf_refused(request)
    token = str(data.get("token", ""))
    password = str(data.get("password", ""))
    form = forms.Form()
    problem = forms.password_problem(password)
    if problem:
        form.errors["password"] = problem
    else:
        try:
            await backends_for(request).reset_password(token, password)
        except BackendError as exc:
            if exc.status == 422 and exc.field == "password":
                form.errors["password"] = str(exc.problem.get("detail") or "Choose another.")
            elif exc.status in (400, 422):
                form.errors["form"] = "This link does not work any more: ask for a new one."
            else:
                form.errors["form"] = "We could not change the password now. Please try again."
    if not form.ok:
        context = {"form": form, "errors": form.errors, "token": token}
        return render(request, "reset.html", context, 400)
    # Shown once signed in again: it must not ask someone signed in to log in.
    flash(request, "Your password is changed.")
    return RedirectResponse("/auth/login?next=/", 303)
