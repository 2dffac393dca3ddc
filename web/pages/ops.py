"""The operator pages (/ops): anyone's bookings from Temporal visibility, one booking's full
status with its workflow in the Temporal UI, and the operator actions the workflow exposes.

Only a session whose token carries the operator scopes (an operator's sign-in, see
`web.oauth.OPERATOR_SCOPES`) sees them; for anyone else every /ops path is a 404, as if it
did not exist. Each action names the operator and a reason, which the booking keeps.
"""

from __future__ import annotations

import contextlib
import logging
from datetime import date
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from temporalio.client import WorkflowQueryFailedError, WorkflowUpdateFailedError
from temporalio.service import RPCError, RPCStatusCode

from services.common.parsers import whole_number
from services.common.settings import Settings, TracingSettings
from services.users import api as users_api
from web import bookings
from web.pages.common import (
    access_token,
    csrf_refused,
    flash,
    read_form,
    render,
    signed_in_user,
    update_refusal,
)
from workflows.models import BookingState, BookingView, Operator, Step

log = logging.getLogger("staysaga.web.ops")

NOT_FOUND = "Not Found"
REASON_MAX = 500


async def _operator(request: Request, scope: str = users_api.OPS_READ) -> Operator:
    """The signed-in operator, if their token carries `scope`; else a 404 for anyone."""
    user = signed_in_user(request)
    if user is None or scope not in user.get("scopes", ()):
        raise HTTPException(404, NOT_FOUND)
    # A session whose token can no longer be refreshed has signed out.
    if await access_token(request) is None:
        raise HTTPException(404, NOT_FOUND)
    return Operator(user_id=str(user["user_id"]), name=user.get("name"))


async def _client(request: Request) -> Any:
    try:
        return await bookings.temporal(request.app)
    except Exception as exc:
        log.warning("Temporal unavailable: %s", exc)
        raise HTTPException(503, "Temporal is unavailable right now.") from exc


def _filter(request: Request) -> tuple[bookings.BookingFilter, dict[str, str], dict[str, str]]:
    """The listing's filter from the query string, the values to show again, and errors."""
    params = request.query_params
    values = {k: params.get(k, "").strip() for k in ("status", "hotel_id", "check_in", "user_id")}
    errors: dict[str, str] = {}
    status = values["status"] if values["status"] in BookingState.__members__ else None
    if values["status"] and status is None:
        errors["status"] = "Choose a status from the list."
    hotel_id = None
    if values["hotel_id"]:
        with contextlib.suppress(ValueError):
            hotel_id = whole_number(values["hotel_id"])
        if hotel_id is None or hotel_id > 2**31:
            errors["hotel_id"], hotel_id = "Enter a hotel's number.", None
    check_in = None
    if values["check_in"]:
        try:
            check_in = date.fromisoformat(values["check_in"])
        except ValueError:
            errors["check_in"] = "Enter a date (YYYY-MM-DD)."
    user_id = values["user_id"] or None
    if user_id is not None and not bookings.valid_booking_id(user_id):
        errors["user_id"], user_id = "Enter an account id.", None
    found_by = bookings.BookingFilter(
        BookingState(status) if status else None, hotel_id, check_in, user_id
    )
    return found_by, values, errors


async def bookings_list(request: Request) -> Response:
    """GET /ops: bookings by status, hotel, check-in and account, newest first."""
    await _operator(request)
    found_by, values, errors = _filter(request)
    client = await _client(request)
    try:
        found = await bookings.list_bookings(client, found_by)
    except RPCError as exc:
        log.warning("listing bookings failed: %s", exc)
        raise HTTPException(503, "Temporal is unavailable right now.") from exc
    settings: Settings = request.app.state.settings
    context = {
        "items": found,
        "values": values,
        "errors": errors,
        "states": [s.value for s in BookingState],
        "failed_url": bookings.bookings_url(
            settings.temporal_ui_url,
            settings.temporal.namespace,
            BookingState.FAILED,
            BookingState.EXPIRED,
        ),
    }
    return render(request, "ops.html", context, 400 if errors else 200)


async def _view(request: Request) -> tuple[Any, BookingView]:
    booking_id = request.path_params["booking_id"]
    if not bookings.valid_booking_id(booking_id):
        raise HTTPException(404, "No such booking.")
    client = await _client(request)
    try:
        return client, await bookings.status(client, booking_id)
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            raise HTTPException(404, "No such booking.") from exc
        raise HTTPException(503, "Temporal is unavailable right now.") from exc
    except WorkflowQueryFailedError as exc:
        raise HTTPException(503, "This booking cannot be read right now.") from exc


async def booking_detail(request: Request) -> Response:
    """GET /ops/bookings/{id}: the booking's full status, step times, actions and workflow."""
    await _operator(request)
    client, view = await _view(request)
    settings: Settings = request.app.state.settings
    try:
        quote = await bookings.cancellation_quote(client, view.booking_id)
    except (RPCError, WorkflowQueryFailedError):
        quote = None
    return render(
        request,
        "ops-booking.html",
        {
            "view": view,
            "quote": quote,
            "workflow_url": bookings.workflow_url(
                settings.temporal_ui_url, settings.temporal.namespace, view.booking_id
            ),
            "trace_url": trace_url(settings, view.trace_id),
            "can_write": users_api.OPS_WRITE in (signed_in_user(request) or {}).get("scopes", ()),
            "can_resend": view.state == BookingState.CONFIRMED and Step.EMAILED in view.steps,
        },
    )


def trace_url(settings: Settings, trace_id: str | None) -> str | None:
    """The booking's trace in the trace viewer STAYSAGA_TRACE_URL names, if both exist."""
    template = settings.of(TracingSettings).trace_url
    if not template or not trace_id:
        return None
    return template.replace("{trace_id}", trace_id)


async def _act(request: Request) -> tuple[Any, BookingView, Operator, str] | Response:
    """An action's operator, booking and reason; a page if the form is refused."""
    operator = await _operator(request, users_api.OPS_WRITE)
    client, view = await _view(request)
    if request.method != "POST":
        return RedirectResponse(f"/ops/bookings/{view.booking_id}", 303)
    form = await read_form(request)
    if form is None:
        return csrf_refused(request)
    reason = str(form.get("reason", "")).strip()
    if not reason or len(reason) > REASON_MAX:
        flash(request, f"Say why, in at most {REASON_MAX} characters: nothing was done.")
        return RedirectResponse(f"/ops/bookings/{view.booking_id}", 303)
    return client, view, operator, reason


async def cancel(request: Request) -> Response:
    """POST /ops/bookings/{id}/cancel: cancel for the traveller, refunding by the policy."""
    acting = await _act(request)
    if isinstance(acting, Response):
        return acting
    client, view, operator, reason = acting
    try:
        await bookings.cancel(client, view.booking_id, reason, operator)
    except WorkflowUpdateFailedError as exc:
        flash(request, f"The booking was not cancelled: {update_refusal(exc)}")
    else:
        log.info("operator %s cancelled booking %s", operator.user_id, view.booking_id)
        flash(request, "The booking is cancelled; the traveller is refunded by the policy.")
    return RedirectResponse(f"/ops/bookings/{view.booking_id}", 303)


async def resend(request: Request) -> Response:
    """POST /ops/bookings/{id}/resend: e-mail the confirmation to the traveller again."""
    acting = await _act(request)
    if isinstance(acting, Response):
        return acting
    client, view, operator, reason = acting
    try:
        await bookings.resend_confirmation(client, view.booking_id, operator, reason)
    except WorkflowUpdateFailedError as exc:
        flash(request, f"The confirmation was not resent: {update_refusal(exc)}")
    else:
        log.info("operator %s resent booking %s", operator.user_id, view.booking_id)
        flash(request, "The confirmation is on its way to the traveller again.")
    return RedirectResponse(f"/ops/bookings/{view.booking_id}", 303)
