"""The booking website's routes and `create_app(settings)`."""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import time
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path
from typing import Any, cast
from urllib.parse import urlencode

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates
from temporalio.client import WorkflowQueryFailedError, WorkflowUpdateFailedError
from temporalio.service import RPCError, RPCStatusCode

from services.common.app import create_service_app
from services.common.settings import Settings, load_settings
from services.reservations.api import RoomTypeAvailability
from services.search.api import AMENITIES
from web import bookings, forms
from web.backends import BackendError, Backends
from web.oauth import OAuthClient, OAuthError, new_verifier
from web.security import SecurityHeadersMiddleware
from web.sessions import CSRF_FIELD, SessionMiddleware, SessionStore, csrf_ok, csrf_token
from workflows.models import BookingRequest, BookingState, BookingView

log = logging.getLogger("staysaga.web")

HERE = Path(__file__).parent
PAGE_SIZE = 10
SSE_POLL_SECONDS = 0.5
SSE_MAX_SECONDS = 600.0
SSE_HEARTBEAT_SECONDS = 15.0


# ---------------------------------------------------------------- helpers


def money(amount: int | None, currency: str | None) -> str:
    """Minor units as a price: 12345, EUR -> '123.45 EUR'."""
    if amount is None:
        return ""
    major, minor = divmod(abs(int(amount)), 100)
    sign = "-" if amount < 0 else ""
    return f"{sign}{major:,}.{minor:02d} {currency or ''}".strip()


def _templates() -> Jinja2Templates:
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    templates.env.filters["money"] = lambda amount, currency=None: money(amount, currency)
    return templates


def render(request: Request, name: str, context: dict[str, Any], status: int = 200) -> Response:
    """A page, with what every page needs: the user, CSRF, flash messages."""
    session = request.session
    base = {
        "user": session.get("user"),
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


def _update_refusal(error: WorkflowUpdateFailedError) -> str:
    """Why the workflow refused an update, in its own words."""
    cause = error.cause
    return str(getattr(cause, "message", None) or cause or error)


def _backends(request: Request) -> Backends:
    return cast(Backends, request.app.state.backends)


def _user(request: Request) -> dict[str, Any] | None:
    return request.session.get("user")


def _login_redirect(request: Request) -> RedirectResponse:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/auth/login?{urlencode({'next': target})}", 303)


def _safe_next(raw: str | None) -> str:
    """Only our own paths: never an open redirect."""
    if raw and raw.startswith("/") and not raw.startswith("//") and "\\" not in raw:
        return raw
    return "/"


async def _access_token(request: Request) -> str | None:
    """The traveller's access token, refreshed when it is about to expire."""
    user = _user(request)
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


async def _form(request: Request) -> Any:
    """The posted form, or None when its CSRF token is missing or wrong."""
    form = await request.form()
    if not csrf_ok(request, form.get(CSRF_FIELD)):
        return None
    return form


def _csrf_refused(request: Request) -> Response:
    return error_page(
        request,
        403,
        "This form has expired",
        "For your safety we could not accept it. Go back, reload the page and try again.",
    )


def _stay_query(values: dict[str, Any]) -> str:
    keep = {
        k: (v.isoformat() if isinstance(v, date) else v)
        for k, v in values.items()
        if k in ("check_in", "check_out", "guests") and v
    }
    return urlencode(keep)


# ---------------------------------------------------------------- search pages


async def home(request: Request) -> Response:
    """GET /: the search form."""
    return render(request, "home.html", {"form": forms.Form(values={"guests": 2})})


async def city_suggestions(request: Request) -> Response:
    """GET /api/cities?prefix=: autocomplete for the search form's script."""
    prefix = request.query_params.get("prefix", "").strip()[:100]
    if not prefix:
        return JSONResponse({"items": []})
    try:
        items = await _backends(request).cities(prefix)
    except BackendError:
        items = []
    return JSONResponse(
        {"items": [{"name": c["name"], "country": c["country"]} for c in items]},
        headers={"Cache-Control": "public, max-age=300"},
    )


async def results(request: Request) -> Response:
    """GET /search: a page of hotels, with filters, sorting and pages."""
    form = forms.search_form(request.query_params)
    if not form.ok:
        template = "results.html" if form.values.get("city") else "home.html"
        return render(request, template, {"form": form, "errors": form.errors}, 400)
    try:
        result = await _backends(request).hotels(forms.search_params(form, PAGE_SIZE))
    except BackendError as exc:
        if exc.status == 404:
            form.errors["city"] = "We know no city by that name."
            return render(request, "home.html", {"form": form, "errors": form.errors}, 404)
        log.warning("search failed: %s", exc)
        return error_page(request, 503, "Search is unavailable", "Please try again shortly.")
    v = form.values
    nights = (v["check_out"] - v["check_in"]).days if v["check_in"] and v["check_out"] else None
    base = {k: val for k, val in request.query_params.multi_items() if k != "page"}
    page = result.page

    def page_link(number: int) -> str:
        return "/search?" + urlencode([*base.items(), ("page", number)])

    return render(
        request,
        "results.html",
        {
            "form": form,
            "page": page,
            "nights": nights,
            "ignored": list(dict.fromkeys(forms.FILTER_NAMES[n] for n in result.ignored)),
            "stay_query": _stay_query(v),
            "prev_link": page_link(page["page"] - 1) if page["page"] > 1 else None,
            "next_link": page_link(page["page"] + 1) if page.get("has_next") else None,
            "sorts": forms.SORTS,
            "amenities": AMENITIES,
        },
    )


async def hotel_page(request: Request) -> Response:
    """GET /hotels/{id}: details and room types, with availability when dates are given."""
    hotel_id = request.path_params["hotel_id"]
    form = forms.Form()
    forms.stay(form, request.query_params)
    try:
        hotel = await _backends(request).hotel(hotel_id)
    except BackendError:
        return error_page(request, 503, "Search is unavailable", "Please try again shortly.")
    if hotel is None:
        return error_page(request, 404, "No such hotel")
    v = form.values
    dated = form.ok and v["check_in"] is not None and v["check_out"] is not None
    guests = v["guests"] or 1
    availability: dict[int, RoomTypeAvailability] | None = None
    availability_error = None
    nights = (v["check_out"] - v["check_in"]).days if dated else None
    if dated:
        try:
            availability = await _backends(request).availability(
                hotel_id, v["check_in"], v["check_out"], guests
            )
        except BackendError as exc:
            log.warning("availability failed: %s", exc)
            availability_error = "We cannot check availability right now; rates are shown."
    rooms = []
    for room in hotel["room_types"]:
        entry = (availability or {}).get(room["id"])
        available = None
        if entry is not None:
            # Reservations says how many rooms are left for the whole stay.
            available = entry.rooms_left
        elif availability is not None:
            available = 0
        total = None
        if nights:
            total = (entry.total if entry is not None else 0) or room["nightly_rate"] * nights
        rooms.append(
            {
                **room,
                "available": available,
                "total": total,
                "fits": room["capacity"] >= guests,
                "book_query": urlencode(
                    {
                        "hotel_id": hotel_id,
                        "room_type_id": room["id"],
                        "check_in": v["check_in"].isoformat() if dated else "",
                        "check_out": v["check_out"].isoformat() if dated else "",
                        "guests": guests,
                    }
                ),
            }
        )
    return render(
        request,
        "hotel.html",
        {
            "hotel": hotel,
            "rooms": rooms,
            "form": form,
            "errors": form.errors,
            "dated": dated,
            "nights": nights,
            "checked": availability is not None,
            "availability_error": availability_error,
        },
    )


# ---------------------------------------------------------------- accounts


async def login(request: Request) -> Response:
    """GET /auth/login: off to the auth service, with PKCE and a state."""
    state = secrets.token_urlsafe(24)
    oauth: OAuthClient = request.app.state.oauth
    verifier = new_verifier()
    request.session["oauth"] = {
        "state": state,
        "verifier": verifier,
        "next": _safe_next(request.query_params.get("next")),
    }
    return RedirectResponse(oauth.authorize_url(state, verifier), 303)


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
    if await _form(request) is None:
        return _csrf_refused(request)
    user = _user(request)
    if user:
        oauth: OAuthClient = request.app.state.oauth
        if user.get("refresh_token"):
            await oauth.revoke(user["refresh_token"], "refresh_token")
        await oauth.revoke(user["access_token"], "access_token")
    request.session.invalidate()  # type: ignore[attr-defined]
    return RedirectResponse("/", 303)


async def signup(request: Request) -> Response:
    """GET/POST /signup: create an account at Users, then log in."""
    if request.method == "GET":
        return render(request, "signup.html", {"form": forms.Form()})
    data = await _form(request)
    if data is None:
        return _csrf_refused(request)
    form = forms.signup_form(data)
    if form.ok:
        try:
            await _backends(request).register(
                form.values["email"], form.values["name"], form.values["password"]
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
    if not form.ok:
        return render(request, "signup.html", {"form": form, "errors": form.errors}, 400)
    flash(request, "Your account is ready.")
    return RedirectResponse("/auth/login?next=/", 303)


async def verify_email(request: Request) -> Response:
    """GET /account/verify-email?token=: the link of the verification e-mail."""
    token = request.query_params.get("token", "")
    try:
        await _backends(request).account_action("/email-verifications", {"token": token})
    except BackendError as exc:
        if exc.status in (400, 422):
            return error_page(
                request,
                400,
                "This link does not work",
                "It may have expired; log in to get a new one.",
            )
        return error_page(request, 503, "We could not check the link", "Please try again.")
    flash(request, "Your e-mail address is confirmed.")
    return RedirectResponse("/", 303)


async def forgot_password(request: Request) -> Response:
    """GET/POST /account/forgot-password: ask Users to e-mail a reset link."""
    if request.method == "GET":
        return render(request, "forgot.html", {"form": forms.Form()})
    data = await _form(request)
    if data is None:
        return _csrf_refused(request)
    email = str(data.get("email", "")).strip()
    form = forms.Form()
    form.values["email"] = email
    if "@" not in email or len(email) > 254:
        form.errors["email"] = "Enter the e-mail address of your account."
        return render(request, "forgot.html", {"form": form, "errors": form.errors}, 400)
    try:
        await _backends(request).account_action("/password-resets", {"email": email})
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
    data = await _form(request)
    if data is None:
        return _csrf_refused(request)
    token = str(data.get("token", ""))
    password = str(data.get("password", ""))
    form = forms.Form()
    problem = forms.password_problem(password)
    if problem:
        form.errors["password"] = problem
    else:
        try:
            await _backends(request).account_action(
                "/password-resets/confirm", {"token": token, "password": password}
            )
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
    flash(request, "Your password is changed: log in with it.")
    return RedirectResponse("/auth/login?next=/", 303)


# ---------------------------------------------------------------- booking


async def _client(request: Request) -> Any:
    try:
        return await bookings.temporal(request.app)
    except Exception as exc:
        log.warning("Temporal unavailable: %s", exc)
        raise HTTPException(503, "Bookings are unavailable right now.") from exc


async def _owned_view(request: Request) -> tuple[Any, BookingView]:
    """The booking in the path, if it is the signed-in traveller's; else 404."""
    booking_id = request.path_params["booking_id"]
    if not bookings.valid_booking_id(booking_id):
        raise HTTPException(404, "No such booking.")
    client = await _client(request)
    try:
        view = await bookings.status(client, booking_id)
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            raise HTTPException(404, "No such booking.") from exc
        raise HTTPException(503, "Bookings are unavailable right now.") from exc
    except WorkflowQueryFailedError as exc:
        raise HTTPException(503, "This booking cannot be read right now.") from exc
    user = _user(request)
    if user is None or view.user_id != user["user_id"]:
        raise HTTPException(404, "No such booking.")
    return client, view


def _booking_context(request: Request, view: BookingView) -> dict[str, Any]:
    settings: Settings = request.app.state.settings
    return {
        "view": view,
        "progress": [(step.value, label, step in view.steps) for step, label in bookings.PROGRESS],
        "settled": bookings.is_settled(view),
        "temporal_url": bookings.workflow_url(
            settings.temporal_ui_url, settings["TEMPORAL_NAMESPACE"], view.booking_id
        ),
        "failed": view.state in (BookingState.FAILED, BookingState.EXPIRED),
    }


async def book(request: Request) -> Response:
    """GET /book: confirm the stay and the guest's name; POST starts the saga."""
    if _user(request) is None:
        return _login_redirect(request)
    source = request.query_params if request.method == "GET" else await request.form()
    if request.method == "POST" and not csrf_ok(request, source.get(CSRF_FIELD)):
        return _csrf_refused(request)
    stay = forms.Form()
    forms.stay(stay, source)
    v = stay.values
    try:
        hotel_id = int(str(source.get("hotel_id", "")))
        room_type_id = int(str(source.get("room_type_id", "")))
    except ValueError:
        return error_page(request, 400, "Choose a room first")
    if not stay.ok or not v["check_in"] or not v["check_out"]:
        return RedirectResponse(f"/hotels/{hotel_id}?{_stay_query(v)}", 303)
    hotel = await _backends(request).hotel(hotel_id)
    room = next((r for r in (hotel or {}).get("room_types", []) if r["id"] == room_type_id), None)
    if hotel is None or room is None:
        return error_page(request, 404, "No such room")
    nights = (v["check_out"] - v["check_in"]).days
    user = _user(request)
    assert user is not None
    context = {
        "hotel": hotel,
        "room": room,
        "stay": v,
        "nights": nights,
        "total": room["nightly_rate"] * nights,
        "guest_name": user.get("name") or "",
    }
    if request.method == "GET":
        return render(request, "book.html", context)
    form = forms.guest_name_form(source)  # type: ignore[arg-type]
    if not form.ok:
        context["guest_name"] = form.values["guest_name"]
        return render(request, "book.html", {**context, "errors": form.errors}, 400)
    booking_id = bookings.new_booking_id()
    client = await _client(request)
    try:
        await bookings.start(
            client,
            BookingRequest(
                booking_id=booking_id,
                user_id=user["user_id"],
                hotel_id=hotel_id,
                room_type_id=room_type_id,
                check_in=v["check_in"],
                check_out=v["check_out"],
                guests=v["guests"] or 1,
                guest_name=form.values["guest_name"],
            ),
        )
        # The hold takes a moment: the checkout page wants its countdown.
        await bookings.wait_until_held(client, booking_id)
    except RPCError as exc:
        log.warning("starting a booking failed: %s", exc)
        return error_page(
            request, 503, "We could not hold the room", "Nothing was charged. Please try again."
        )
    return RedirectResponse(f"/bookings/{booking_id}/checkout", 303)


async def checkout(request: Request) -> Response:
    """GET/POST /bookings/{id}/checkout: the card form, and the payment update."""
    if _user(request) is None:
        return _login_redirect(request)
    client, view = await _owned_view(request)
    context = _booking_context(request, view)
    if view.state != BookingState.AWAITING_PAYMENT:
        if view.state == BookingState.STARTED and request.method == "GET":
            return render(request, "booking.html", context)
        return RedirectResponse(f"/bookings/{view.booking_id}", 303)
    if request.method == "GET":
        return render(request, "checkout.html", {**context, "form": forms.Form()})
    data = await _form(request)
    if data is None:
        return _csrf_refused(request)
    form = forms.card_form(data)
    card = form.values.pop("card")
    if form.ok:
        try:
            token = await _backends(request).tokenize_card(card)
        except BackendError as exc:
            field = exc.field if exc.field is not None and exc.field in card else "number"
            if exc.status in (400, 402, 422):
                form.errors[field] = str(exc.problem.get("detail") or "The bank refused this card.")
            else:
                form.errors["form"] = "The bank is not answering. Nothing was charged; try again."
        else:
            try:
                await bookings.submit_payment(client, view.booking_id, token["token"])
            except WorkflowUpdateFailedError as exc:
                cause = _update_refusal(exc)
                form.errors["form"] = f"The booking did not accept the payment: {cause}"
            except RPCError as exc:
                log.warning("payment update failed: %s", exc)
                form.errors["form"] = "We could not submit the payment. Nothing was charged."
            else:
                return RedirectResponse(f"/bookings/{view.booking_id}", 303)
    return render(request, "checkout.html", {**context, "form": form, "errors": form.errors}, 400)


async def booking_page(request: Request) -> Response:
    """GET /bookings/{id}: the saga's progress, then the confirmation or the failure."""
    if _user(request) is None:
        return _login_redirect(request)
    _, view = await _owned_view(request)
    return render(request, "booking.html", _booking_context(request, view))


async def booking_events(request: Request) -> Response:
    """GET /bookings/{id}/events: server-sent events from the status query."""
    if _user(request) is None:
        raise HTTPException(401, "Log in first.")
    client, view = await _owned_view(request)

    async def stream() -> AsyncIterator[str]:
        started = last_beat = time.monotonic()
        last = None
        current = view
        while True:
            payload = json.dumps(
                {
                    "state": current.state.value,
                    "steps": [s.value for s in current.steps],
                    "done": bookings.is_settled(current),
                    "failure_reason": current.failure_reason,
                }
            )
            if payload != last:
                yield f"event: status\ndata: {payload}\n\n"
                last = payload
            if bookings.is_settled(current) or time.monotonic() - started > SSE_MAX_SECONDS:
                return
            if time.monotonic() - last_beat > SSE_HEARTBEAT_SECONDS:
                yield ": still here\n\n"
                last_beat = time.monotonic()
            await asyncio.sleep(SSE_POLL_SECONDS)
            if await request.is_disconnected():
                return
            try:
                current = await bookings.status(client, view.booking_id)
            except (RPCError, WorkflowQueryFailedError):
                continue

    return StreamingResponse(
        stream(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


async def receipt(request: Request) -> Response:
    """GET /bookings/{id}/receipt: the receipt PDF, fetched with the traveller's token."""
    if _user(request) is None:
        return _login_redirect(request)
    _, view = await _owned_view(request)
    if not view.receipt_document_id:
        return error_page(request, 404, "The receipt is not ready yet")
    token = await _access_token(request)
    if token is None:
        return _login_redirect(request)
    try:
        document = await _backends(request).document(view.receipt_document_id, token)
    except BackendError as exc:
        status = 404 if exc.status in (403, 404) else 503
        return error_page(request, status, "The receipt is not available right now")
    return Response(
        document.content,
        media_type="application/pdf",
        headers={
            "Content-Disposition": f'attachment; filename="receipt-{view.booking_id}.pdf"',
        },
    )


async def cancel(request: Request) -> Response:
    """GET /bookings/{id}/cancel shows the refund; POST cancels."""
    if _user(request) is None:
        return _login_redirect(request)
    client, view = await _owned_view(request)
    try:
        quote = await bookings.cancellation_quote(client, view.booking_id)
    except (RPCError, WorkflowQueryFailedError) as exc:
        log.warning("cancellation quote failed: %s", exc)
        return error_page(request, 503, "Cancelling is unavailable right now")
    context = {**_booking_context(request, view), "quote": quote}
    if request.method == "GET":
        return render(request, "cancel.html", context)
    if await _form(request) is None:
        return _csrf_refused(request)
    if not quote.cancellable:
        return render(request, "cancel.html", context, 409)
    try:
        await bookings.cancel(client, view.booking_id, "cancelled by the traveller")
    except WorkflowUpdateFailedError as exc:
        cause = _update_refusal(exc)
        return render(request, "cancel.html", {**context, "error": cause}, 409)
    flash(request, "Your booking is cancelled.")
    return RedirectResponse(f"/bookings/{view.booking_id}", 303)


async def my_bookings(request: Request) -> Response:
    """GET /bookings: the traveller's bookings."""
    user = _user(request)
    if user is None:
        return _login_redirect(request)
    client = await _client(request)
    try:
        found = await bookings.list_for_user(client, user["user_id"])
    except RPCError as exc:
        log.warning("listing bookings failed: %s", exc)
        return error_page(request, 503, "Your bookings are unavailable right now")
    settings: Settings = request.app.state.settings
    return render(
        request,
        "bookings.html",
        {
            "items": found,
            "ui": settings.temporal_ui_url,
            "namespace": settings["TEMPORAL_NAMESPACE"],
            "workflow_url": bookings.workflow_url,
        },
    )


# ---------------------------------------------------------------- the app


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if "session" not in request.scope:
        return Response(exc.detail, status_code=exc.status_code)
    return error_page(request, exc.status_code, str(exc.detail))


async def _unexpected(request: Request, exc: Exception) -> Response:
    log.exception("unexpected error", exc_info=exc)
    if "session" not in request.scope:
        return Response("Something went wrong.", status_code=500)
    return error_page(request, 500, "Something went wrong", "Please try again.")


ROUTES = [
    Route("/", home, methods=["GET"]),
    Route("/api/cities", city_suggestions, methods=["GET"]),
    Route("/search", results, methods=["GET"]),
    Route("/hotels/{hotel_id:int}", hotel_page, methods=["GET"]),
    Route("/auth/login", login, methods=["GET"]),
    Route("/auth/callback", callback, methods=["GET"]),
    Route("/auth/logout", logout, methods=["POST"]),
    Route("/signup", signup, methods=["GET", "POST"]),
    Route("/account/verify-email", verify_email, methods=["GET"]),
    Route("/account/forgot-password", forgot_password, methods=["GET", "POST"]),
    Route("/account/reset-password", reset_password, methods=["GET", "POST"]),
    Route("/book", book, methods=["GET", "POST"]),
    Route("/bookings", my_bookings, methods=["GET"]),
    Route("/bookings/{booking_id}", booking_page, methods=["GET"]),
    Route("/bookings/{booking_id}/checkout", checkout, methods=["GET", "POST"]),
    Route("/bookings/{booking_id}/events", booking_events, methods=["GET"]),
    Route("/bookings/{booking_id}/receipt", receipt, methods=["GET"]),
    Route("/bookings/{booking_id}/cancel", cancel, methods=["GET", "POST"]),
    Mount("/static", StaticFiles(directory=str(HERE / "static")), name="static"),
]


def create_app(settings: Settings | None = None) -> Starlette:
    """The website's ASGI app. `app.state.backends`, `.oauth`, `.temporal` may be replaced."""
    settings = settings or load_settings()
    secret = settings["WEB_SESSION_SECRET"]
    if not secret:
        log.warning("WEB_SESSION_SECRET is not set: sessions end when this process does")
        secret = secrets.token_urlsafe(32)

    async def close(app: Starlette) -> None:
        for http in {app.state.backends.http, app.state.oauth.http}:
            await http.aclose()

    app = create_service_app(
        "web",
        settings,
        (),
        title="staysaga website",
        migrations="web.migrations",
        on_shutdown=(close,),
        extra_routes=ROUTES,
    )
    app.state.templates = _templates()
    app.state.backends = Backends.create(settings)
    app.state.oauth = OAuthClient(settings, app.state.backends.http)
    app.state.temporal = None  # connected on first use (web.bookings.temporal)
    app.state.temporal_lock = asyncio.Lock()
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
    secure = settings.url("web").startswith("https://")
    app.add_middleware(SessionMiddleware, store=SessionStore(app.state, secret), secure=secure)
    app.add_middleware(SecurityHeadersMiddleware, auth_url=settings.url("auth"))
    return app
