"""What every page uses: templates, the signed-in traveller, forms, money."""

from __future__ import annotations

import logging
import time
from datetime import date
from pathlib import Path
from typing import Any, cast
from urllib.parse import urlencode

import jinja2
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.templating import Jinja2Templates
from temporalio.client import WorkflowUpdateFailedError

from services.common.money import format_money
from services.users import api as users_api
from web import bookings
from web.backends import BackendError, Backends
from web.error_summary import error_summary
from web.forms import date_bounds
from web.oauth import OAuthError
from web.sessions import CSRF_FIELD, csrf_ok, csrf_token

log = logging.getLogger("staysaga.web")

HERE = Path(__file__).resolve().parent.parent


def money(amount: int | None, currency: str | None) -> str:
    """Minor units as a price, in the currency's own decimals: 12345, EUR -> '123.45 EUR'."""
    if amount is None:
        return ""
    return format_money(int(amount), currency or "").strip()


def day(value: date) -> str:
    """A date as a traveller reads it: 'Sat 12 Dec 2026'."""
    return f"{value:%a} {value.day} {value:%b %Y}"


def page_templates() -> Jinja2Templates:
    """The website's Jinja2 templates, with the `money` filter. A template that reads a
    variable or a field its page does not pass fails the page, never shows a blank: a
    misnamed field is a bug to see (a page that may lack one asks `is defined`)."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=jinja2.select_autoescape(),
        undefined=jinja2.StrictUndefined,
    )
    found = Jinja2Templates(env=env)
    found.env.filters["money"] = lambda amount, currency=None: money(amount, currency)
    found.env.filters["day"] = day
    found.env.filters["state_words"] = bookings.state_words
    # The date inputs' min/max, as of the moment a page is drawn.
    found.env.globals["date_bounds"] = date_bounds
    found.env.globals["error_summary"] = error_summary
    return found


def render(request: Request, name: str, context: dict[str, Any], status: int = 200) -> Response:
    """A page, with what every page needs: the user, CSRF, flash messages."""
    session = request.session
    base = {
        "user": session.get("user"),
        "operator": users_api.OPS_READ in (session.get("user") or {}).get("scopes", ()),
        "csrf_field": CSRF_FIELD,
        "csrf_token": lambda: csrf_token(request),
        "flashes": session.pop("flash", []),
        "errors": {},
    }
    templates: Jinja2Templates = request.app.state.templates
    return templates.TemplateResponse(request, name, {**base, **context}, status_code=status)


def flash(request: Request, message: str) -> None:
    """A message for the next page."""
    request.session["flash"] = [*request.session.get("flash", []), message]


def error_page(request: Request, status: int, title: str, detail: str = "") -> Response:
    """An HTML error page."""
    return render(request, "error.html", {"title": title, "detail": detail}, status)


def update_refusal(error: WorkflowUpdateFailedError) -> str:
    """Why the workflow refused an update, in its own words."""
    cause = error.cause
    return str(getattr(cause, "message", None) or cause or error)


def backends_for(request: Request) -> Backends:
    """The website's typed clients of the services."""
    return cast(Backends, request.app.state.backends)


def signed_in_user(request: Request) -> dict[str, Any] | None:
    """The signed-in traveller's session entry (tokens, id, name), or None."""
    return request.session.get("user")


async def email_verified(request: Request) -> bool:
    """Whether the signed-in traveller's address is verified: asked of Users until it is,
    then remembered in the session (raises BackendError if Users does not answer)."""
    user = signed_in_user(request)
    if user is None:
        return False
    if user.get("email_verified"):
        return True
    account = await backends_for(request).account(str(user["user_id"]))
    if account.email_verified:
        request.session["user"] = {**user, "email_verified": True}
    return account.email_verified


async def account_name(request: Request) -> str:
    """The signed-in traveller's name, to pre-fill the guest's: from the session, else asked
    of Users once and remembered ('' if Users does not answer: the traveller types it)."""
    user = signed_in_user(request)
    if user is None:
        return ""
    if user.get("name"):
        return str(user["name"])
    try:
        account = await backends_for(request).account(str(user["user_id"]))
    except BackendError:
        return ""
    request.session["user"] = {**user, "name": account.name}
    return account.name


def login_redirect(request: Request) -> RedirectResponse:
    """Send the visitor to sign in, and back here afterwards."""
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/auth/login?{urlencode({'next': target})}", 303)


def safe_next(raw: str | None) -> str:
    """Only our own paths: never an open redirect."""
    if raw and raw.startswith("/") and not raw.startswith("//") and "\\" not in raw:
        return raw
    return "/"


async def access_token(request: Request) -> str | None:
    """The traveller's access token, refreshed when it is about to expire."""
    user = signed_in_user(request)
    if not user:
        return None
    if user["expires_at"] - 30 > time.time():
        return str(user["access_token"])
    if not user.get("refresh_token"):
        request.session.pop("user", None)
        return None
    try:
        tokens = await request.app.state.oauth.refresh(user["refresh_token"])
    except OAuthError as exc:
        log.info("refresh failed, signing out: %s", exc)
        request.session.pop("user", None)
        return None
    request.session["user"] = tokens.as_session()
    return str(tokens.access_token)


async def read_form(request: Request) -> Any:
    """The posted form, or None when its CSRF token is missing or wrong."""
    form = await request.form()
    if not csrf_ok(request, form.get(CSRF_FIELD)):
        return None
    return form


def csrf_refused(request: Request) -> Response:
    """The page for a form whose CSRF token did not match."""
    return error_page(
        request,
        403,
        "This form has expired",
        "For your safety we could not accept it. Go back, reload the page and try again.",
    )


def stay_query(values: dict[str, Any]) -> str:
    """The query string of a stay (dates, guests) for links between pages."""
    keep = {
        k: (v.isoformat() if isinstance(v, date) else v)
        for k, v in values.items()
        if k in ("check_in", "check_out", "guests") and v
    }
    return urlencode(keep)
