"""Booking a room: confirm the stay, pay, follow the saga live, the receipt, cancel, my bookings."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response, StreamingResponse
from temporalio.client import WorkflowQueryFailedError, WorkflowUpdateFailedError
from temporalio.service import RPCError, RPCStatusCode

from web import bookings, forms
from web.backends import BackendError
from web.pages.common import (
    access_token,
    account_name,
    backends_for,
    csrf_refused,
    email_verified,
    error_page,
    flash,
    login_redirect,
    read_form,
    render,
    signed_in_user,
    stay_query,
    update_refusal,
)
from web.sessions import CSRF_FIELD, csrf_ok
from workflows.models import BookingRequest, BookingState, BookingView

log = logging.getLogger("staysaga.web")

SSE_POLL_SECONDS = 0.5
SSE_MAX_SECONDS = 600.0
SSE_HEARTBEAT_SECONDS = 15.0


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
    user = signed_in_user(request)
    if user is None or view.user_id != user["user_id"]:
        raise HTTPException(404, "No such booking.")
    return client, view


def _booking_context(request: Request, view: BookingView) -> dict[str, Any]:
    # No link to the Temporal UI and no workflow id: those are operator tools (/ops).
    now = datetime.now(UTC)
    pay_left = bookings.seconds_to_pay(view, now)
    return {
        "now": now,
        "pay_by": bookings.pay_deadline(view),
        "pay_left": pay_left,
        "pay_left_text": f"{pay_left // 60}:{pay_left % 60:02d}",
        "view": view,
        "progress": [
            (step.value, label, step in view.steps) for step, label in bookings.progress(view)
        ],
        "settled": bookings.is_settled(view),
        "cancelled_after_confirming": view.state == BookingState.CANCELLED
        and bookings.was_confirmed(view),
        "failed": view.state in (BookingState.FAILED, BookingState.EXPIRED),
    }


async def book(request: Request) -> Response:
    """GET /book: confirm the stay and the guest's name; POST starts the saga."""
    if signed_in_user(request) is None:
        return login_redirect(request)
    source = request.query_params if request.method == "GET" else await request.form()
    if request.method == "POST" and not csrf_ok(request, source.get(CSRF_FIELD)):
        return csrf_refused(request)
    stay = forms.Form()
    forms.stay(stay, source)
    v = stay.values
    try:
        hotel_id = int(str(source.get("hotel_id", "")))
        room_type_id = int(str(source.get("room_type_id", "")))
    except ValueError:
        return error_page(request, 400, "Choose a room first")
    if not stay.ok or not v["check_in"] or not v["check_out"]:
        hotel_page = request.app.url_path_for("hotel_page", hotel_id=hotel_id)
        return RedirectResponse(f"{hotel_page}?{stay_query(v)}", 303)
    hotel = await backends_for(request).hotel(hotel_id)
    room = next((r for r in hotel.room_types if r.id == room_type_id), None) if hotel else None
    if hotel is None or room is None:
        return error_page(request, 404, "No such room")
    nights = (v["check_out"] - v["check_in"]).days
    user = signed_in_user(request)
    assert user is not None
    policy = await _policy(request, hotel_id, room_type_id, v)
    context = {
        "policy": policy,
        "now": datetime.now(UTC),
        "hotel": hotel,
        "room": room,
        "stay": v,
        "nights": nights,
        "total": room.nightly_rate * nights,
        "guest_name": await account_name(request),
    }
    if request.method == "GET":
        return render(request, "book.html", context)
    form = forms.guest_name_form(source)  # type: ignore[arg-type]
    if not form.ok:
        context["guest_name"] = form.values["guest_name"]
        return render(request, "book.html", {**context, "errors": form.errors}, 400)
    booking_id = bookings.new_booking_id()
    client = await _client(request)
    asked = BookingRequest(
        booking_id=booking_id,
        user_id=user["user_id"],
        hotel_id=hotel_id,
        room_type_id=room_type_id,
        check_in=v["check_in"],
        check_out=v["check_out"],
        guests=v["guests"] or 1,
        guest_name=form.values["guest_name"],
    )
    try:
        pending = await bookings.pending_for_stay(client, asked)
    except (RPCError, WorkflowQueryFailedError) as exc:
        log.warning("looking for a pending booking failed: %s", exc)
        pending = None
    if pending is not None:
        # Back from checkout and booking again: the room held already is the one to pay for.
        return RedirectResponse(f"/bookings/{pending.booking_id}/checkout", 303)
    try:
        await bookings.start(client, asked)
        # The hold takes a moment: the checkout page wants its countdown.
        await bookings.wait_until_held(client, booking_id)
    except RPCError as exc:
        log.warning("starting a booking failed: %s", exc)
        return error_page(
            request, 503, "We could not hold the room", "Nothing was charged. Please try again."
        )
    return RedirectResponse(f"/bookings/{booking_id}/checkout", 303)


async def _policy(
    request: Request, hotel_id: int, room_type_id: int, stay: dict[str, Any]
) -> dict[str, Any] | None:
    """The cancellation policy the stay would be booked under, as Reservations answers it
    (the hold then carries the same terms); None if it cannot be asked right now."""
    try:
        found = await backends_for(request).stay_availability(
            hotel_id, stay["check_in"], stay["check_out"], stay["guests"] or 1
        )
    except BackendError as exc:
        log.warning("availability for the policy failed: %s", exc)
        return None
    room = next((r for r in found.room_types if r.room_type_id == room_type_id), None)
    return {
        "free_cancellation_until": found.terms.free_until(stay["check_in"]),
        "late_cancellation_fee": room.nightly_rate if room else None,
        "currency": room.currency if room else None,
    }


async def checkout(request: Request) -> Response:
    """GET/POST /bookings/{id}/checkout: the card form, and the payment update."""
    user = signed_in_user(request)
    if user is None:
        return login_redirect(request)
    client, view = await _owned_view(request)
    context = _booking_context(request, view)
    if view.state != BookingState.AWAITING_PAYMENT:
        if view.state == BookingState.STARTED and request.method == "GET":
            return render(request, "booking.html", context)
        return RedirectResponse(f"/bookings/{view.booking_id}", 303)
    # An unverified account may browse and hold, but pays only once its address is proven.
    try:
        verified = await email_verified(request)
    except BackendError:
        return error_page(
            request, 503, "We could not check your account", "Nothing was charged; try again."
        )
    if not verified:
        status = 200 if request.method == "GET" else 403
        return render(
            request, "checkout.html", {**context, "form": forms.Form(), "unverified": True}, status
        )
    if request.method == "GET":
        return render(
            request, "checkout.html", {**context, "form": forms.Form(), "unverified": False}
        )
    data = await read_form(request)
    if data is None:
        return csrf_refused(request)
    form = forms.card_form(data)
    card = form.values.pop("card")
    if context["pay_left"] == 0:
        # The saga has stopped waiting: the bank is not asked, nothing is charged.
        form.errors["form"] = "The time to pay has run out: this room is no longer held for you."
    elif form.ok:
        try:
            token = await backends_for(request).tokenize_card(card, user["user_id"])
        except BackendError as exc:
            if exc.status in (400, 402, 422):
                field, message = forms.card_refusal(exc.field)
                form.errors[field] = message
            else:
                form.errors["form"] = "The bank is not answering. Nothing was charged; try again."
        else:
            try:
                paid = await bookings.submit_payment(client, view.booking_id, token.token)
            except WorkflowUpdateFailedError as exc:
                cause = update_refusal(exc)
                form.errors["form"] = f"The booking did not accept the payment: {cause}"
            except RPCError as exc:
                log.warning("payment update failed: %s", exc)
                form.errors["form"] = "We could not submit the payment. Nothing was charged."
            else:
                # Declined with the room kept: back to the card form, which says why.
                again = paid.state == BookingState.AWAITING_PAYMENT
                page = f"/bookings/{view.booking_id}" + ("/checkout" if again else "")
                return RedirectResponse(page, 303)
    context |= {"form": form, "errors": form.errors, "unverified": False}
    return render(request, "checkout.html", context, 400)


async def release(request: Request) -> Response:
    """POST /bookings/{id}/release: give up the room before paying (nothing is charged)."""
    if signed_in_user(request) is None:
        return login_redirect(request)
    client, view = await _owned_view(request)
    if await read_form(request) is None:
        return csrf_refused(request)
    try:
        await bookings.release(client, view.booking_id)
    except WorkflowUpdateFailedError as exc:
        flash(request, f"The room could not be released: {update_refusal(exc)}")
    except RPCError as exc:
        log.warning("release failed: %s", exc)
        return error_page(request, 503, "Releasing the room is unavailable right now")
    else:
        flash(request, "The room is released. Nothing was charged.")
    return RedirectResponse(f"/bookings/{view.booking_id}", 303)


async def booking_page(request: Request) -> Response:
    """GET /bookings/{id}: the saga's progress, then the confirmation or the failure."""
    if signed_in_user(request) is None:
        return login_redirect(request)
    _, view = await _owned_view(request)
    return render(request, "booking.html", _booking_context(request, view))


async def booking_events(request: Request) -> Response:
    """GET /bookings/{id}/events: server-sent events from the status query."""
    if signed_in_user(request) is None:
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
    if signed_in_user(request) is None:
        return login_redirect(request)
    _, view = await _owned_view(request)
    return await _document(request, view, view.receipt_document_id, "receipt")


async def cancellation_note(request: Request) -> Response:
    """GET /bookings/{id}/cancellation-note: the cancellation note PDF of a cancelled booking."""
    if signed_in_user(request) is None:
        return login_redirect(request)
    _, view = await _owned_view(request)
    return await _document(request, view, view.cancellation_document_id, "cancellation note")


async def _document(
    request: Request, view: BookingView, document_id: str | None, what: str
) -> Response:
    """A booking's PDF, fetched from the PDF service with the traveller's own token."""
    if not document_id:
        return error_page(request, 404, f"The {what} is not ready yet")
    token = await access_token(request)
    if token is None:
        return login_redirect(request)
    try:
        document = await backends_for(request).document(document_id, token)
    except BackendError as exc:
        status = 404 if exc.status in (403, 404) else 503
        return error_page(request, status, f"The {what} is not available right now")
    filename = f"{what.replace(' ', '-')}-{view.booking_id[:8]}.pdf"
    return Response(
        document.content,
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


async def cancel(request: Request) -> Response:
    """GET /bookings/{id}/cancel shows the refund; POST cancels."""
    if signed_in_user(request) is None:
        return login_redirect(request)
    client, view = await _owned_view(request)
    try:
        quote = await bookings.cancellation_quote(client, view.booking_id)
    except (RPCError, WorkflowQueryFailedError) as exc:
        log.warning("cancellation quote failed: %s", exc)
        return error_page(request, 503, "Cancelling is unavailable right now")
    context = {**_booking_context(request, view), "quote": quote, "error": None}
    if request.method == "GET":
        return render(request, "cancel.html", context)
    if await read_form(request) is None:
        return csrf_refused(request)
    if not quote.cancellable:
        return render(request, "cancel.html", context, 409)
    try:
        await bookings.cancel(client, view.booking_id, "cancelled by the traveller")
    except WorkflowUpdateFailedError as exc:
        cause = update_refusal(exc)
        return render(request, "cancel.html", {**context, "error": cause}, 409)
    flash(request, "Your booking is cancelled.")
    return RedirectResponse(f"/bookings/{view.booking_id}", 303)


async def my_bookings(request: Request) -> Response:
    """GET /bookings: the traveller's bookings."""
    user = signed_in_user(request)
    if user is None:
        return login_redirect(request)
    client = await _client(request)
    try:
        found = await bookings.list_for_user(client, user["user_id"])
    except RPCError as exc:
        log.warning("listing bookings failed: %s", exc)
        return error_page(request, 503, "Your bookings are unavailable right now")
    # Each line names what was booked, from the booking's own status view.
    views = await bookings.views_of(client, found)
    return render(request, "bookings.html", {"items": found, "views": views})
