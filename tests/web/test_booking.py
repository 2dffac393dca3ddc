"""Booking pages against a stand-in Temporal client: start, pay, follow, cancel, list."""

import asyncio
import json
import logging
import re
import time
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock

import pytest
from sqlalchemy import select
from temporalio.service import RPCError, RPCStatusCode

from services.search.api import HotelQuery
from temporal.names import BOOKING_STATUS, CHECK_IN, HOTEL_ID, USER_ID, TaskQueue
from tests.web.conftest import Site
from tests.web.fakes import FakeHandle, form_of
from web.tables import sessions
from workflows.models import (
    UPDATE_CANCEL,
    UPDATE_SUBMIT_PAYMENT,
    WORKFLOW_TYPE,
    BookingState,
    PaymentSubmission,
    Step,
)

CHECK_IN_DAY = date.today() + timedelta(days=10)
CHECK_OUT_DAY = CHECK_IN_DAY + timedelta(days=2)
CARD = {
    "holder": "Ada Lovelace",
    "number": "4242 4242 4242 4242",
    "exp_month": "12",
    "exp_year": str(date.today().year + 2),
    "cvc": "123",
}


def _digits(text: str) -> str:
    return re.sub(r"\D", "", text)


def _keys_and_strings(value) -> list[str]:
    """Every key and string value in decoded JSON, however deep."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [*value, *(s for v in value.values() for s in _keys_and_strings(v))]
    if isinstance(value, list):
        return [s for v in value for s in _keys_and_strings(v)]
    return []


async def _room(site: Site) -> tuple[int, int]:
    backends = site.app.state.backends
    page = await backends.hotels(HotelQuery(city="Paris", page_size=1))
    hotel = await backends.hotel(page.page.items[0].id)
    return hotel.id, hotel.room_types[0].id


def _stay(hotel_id: int, room_id: int) -> dict:
    return {
        "hotel_id": hotel_id,
        "room_type_id": room_id,
        "check_in": CHECK_IN_DAY.isoformat(),
        "check_out": CHECK_OUT_DAY.isoformat(),
        "guests": 1,
    }


async def _start_booking(site: Site) -> str:
    hotel_id, room_id = await _room(site)
    page = await site.client.get("/book", params=_stay(hotel_id, room_id))
    assert page.status_code == 200, page.text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    response = await site.client.post(
        "/book", data={**_stay(hotel_id, room_id), "guest_name": "Ada", "csrf_token": token}
    )
    assert response.status_code == 303, response.text
    booking_id = re.fullmatch(r"/bookings/(\w+)/checkout", response.headers["location"]).group(1)
    return booking_id


async def _csrf(site: Site, path: str) -> str:
    page = await site.client.get(path)
    return re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)


async def test_booking_needs_a_login(site: Site):
    hotel_id, room_id = await _room(site)
    response = await site.client.get("/book", params=_stay(hotel_id, room_id))
    assert response.status_code == 303
    assert response.headers["location"].startswith("/auth/login?next=%2Fbook")


async def test_booking_starts_the_saga_with_its_id_queue_and_search_attributes(site: Site):
    await site.log_in("user-1")
    booking_id = await _start_booking(site)
    started = site.temporal.started[0]
    assert started["workflow"] == WORKFLOW_TYPE
    assert started["id"] == f"booking-{booking_id}"
    assert started["task_queue"] == TaskQueue.BOOKING.value
    request = started["arg"]
    assert (request.user_id, request.guest_name, request.check_in) == (
        "user-1",
        "Ada",
        CHECK_IN_DAY,
    )
    attributes = started["search_attributes"]
    assert attributes.get(USER_ID) == "user-1"
    assert attributes.get(BOOKING_STATUS) == "STARTED"
    assert attributes.get(HOTEL_ID) == str(request.hotel_id)
    assert attributes.get(CHECK_IN).date() == CHECK_IN_DAY


# A line break (a mail header's end), a bidirectional override, a NUL.
BAD_NAMES = ["Ada\r\nBcc: eve@example.com", "\u202eecalevoL adA", "Ada\x00"]


@pytest.mark.parametrize("name", BAD_NAMES)
async def test_a_guest_name_with_control_characters_is_an_error_on_its_field(site: Site, name):
    await site.log_in()
    hotel_id, room_id = await _room(site)
    page = await site.client.get("/book", params=_stay(hotel_id, room_id))
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    response = await site.client.post(
        "/book", data={**_stay(hotel_id, room_id), "guest_name": name, "csrf_token": token}
    )
    assert response.status_code == 400
    assert re.search(
        r'id="guest_name-error">The guest(&#39;|\')s name cannot contain', response.text
    )
    assert site.temporal.started == []


async def test_booking_without_csrf_token_is_refused(site: Site):
    await site.log_in()
    hotel_id, room_id = await _room(site)
    response = await site.client.post("/book", data={**_stay(hotel_id, room_id), "guest_name": "A"})
    assert response.status_code == 403
    assert site.temporal.started == []


async def test_checkout_shows_the_hold_countdown_and_no_operator_tool(site: Site):
    await site.log_in()
    booking_id = await _start_booking(site)
    page = await site.client.get(f"/bookings/{booking_id}/checkout")
    assert page.status_code == 200
    assert re.search(r'<time datetime="[^"]+" data-countdown[^>]*>', page.text)
    # The Temporal UI and workflow ids are for operators only (/ops).
    assert site.app.state.settings.temporal_ui_url not in page.text
    assert f"booking-{booking_id}" not in page.text and "/ops" not in page.text
    assert 'autocomplete="cc-number"' in page.text and 'for="number"' in page.text


async def test_checkout_counts_to_the_sagas_payment_deadline_in_words(site: Site):
    await site.log_in()
    booking_id = await _start_booking(site)
    view = site.temporal.views[f"booking-{booking_id}"]
    page = await site.client.get(f"/bookings/{booking_id}/checkout")
    countdown = re.search(r'<time datetime="([^"]+)" data-countdown[^>]*>([^<]*)</time>', page.text)
    assert countdown is not None
    # The saga's deadline, not the hold's expiry 30 seconds later.
    assert countdown.group(1) == view.pay_by.isoformat() != view.hold_expires_at.isoformat()
    assert re.fullmatch(r"14:2\d", countdown.group(2))  # 15 minutes less 30 seconds
    assert "left to pay" in page.text and "minutes left" not in page.text
    # Nothing that changes every second sits in a live region.
    status = re.search(r'<p role="status"[^>]*>(.*?)</p>', page.text, re.S)
    assert status is not None and "data-countdown" not in status.group(1)
    assert "data-countdown" not in page.text.split('role="status"')[0].rsplit("<p", 1)[-1]


async def test_checkout_past_the_payment_deadline_closes_the_card_form(site: Site):
    await site.log_in()
    booking_id = await _start_booking(site)
    view = site.temporal.views[f"booking-{booking_id}"]
    # The hold itself would still run 20 seconds: the saga no longer waits, though.
    view.hold_expires_at = datetime.now(UTC) + timedelta(seconds=20)
    view.pay_by = datetime.now(UTC) - timedelta(seconds=10)
    page = await site.client.get(f"/bookings/{booking_id}/checkout")
    assert re.search(r"<fieldset[^>]*disabled", page.text)
    assert "0:00" in page.text and "The time to pay has run out" in page.text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    paid = await site.client.post(
        f"/bookings/{booking_id}/checkout", data={**CARD, "csrf_token": token}
    )
    assert paid.status_code == 400 and "The time to pay has run out" in paid.text
    assert "bank" not in site.services.calls and site.temporal.updates == []


async def test_checkout_shows_the_hotels_cancellation_policy_before_paying(site: Site):
    await site.log_in()
    booking_id = await _start_booking(site)
    view = site.temporal.views[f"booking-{booking_id}"]
    page = await site.client.get(f"/bookings/{booking_id}/checkout")
    until = view.free_cancellation_until.strftime("%-d %B %Y, %H:%M")
    assert f"Free cancellation until {until} UTC" in page.text
    assert "150.00 EUR (the first night)" in page.text


async def test_booking_the_same_stay_again_reuses_the_pending_booking(site: Site):
    await site.log_in()
    first = await _start_booking(site)
    # Back from checkout to the booking form, and "Hold the room" again.
    again = await _start_booking(site)
    assert again == first
    assert len(site.temporal.started) == 1
    assert any("BookingStatus = 'AWAITING_PAYMENT'" in q for q in site.temporal.queries)


async def test_a_pending_booking_past_its_deadline_or_for_another_stay_is_not_reused(
    site: Site,
):
    await site.log_in()
    first = await _start_booking(site)
    view = site.temporal.views[f"booking-{first}"]
    view.guests = 2  # another party: another stay
    second = await _start_booking(site)
    assert second != first
    site.temporal.views[f"booking-{second}"].pay_by = datetime.now(UTC) - timedelta(seconds=1)
    third = await _start_booking(site)
    assert third not in (first, second) and len(site.temporal.started) == 3


async def test_checkout_releases_the_room_through_the_saga(site: Site):
    await site.log_in()
    booking_id = await _start_booking(site)
    page = await site.client.get(f"/bookings/{booking_id}/checkout")
    assert re.search(rf'action="/bookings/{booking_id}/release"', page.text)
    assert ">Release this room</button>" in page.text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    refused = await site.client.post(f"/bookings/{booking_id}/release")
    assert refused.status_code == 403 and site.temporal.updates == []
    released = await site.client.post(f"/bookings/{booking_id}/release", data={"csrf_token": token})
    assert released.status_code == 303
    assert released.headers["location"] == f"/bookings/{booking_id}"
    ((workflow_id, name, arg),) = site.temporal.updates
    assert (workflow_id, name) == (f"booking-{booking_id}", UPDATE_CANCEL)
    assert arg.reason == "released by the traveller" and arg.operator is None
    shown = await site.client.get(f"/bookings/{booking_id}")
    assert "The room is released. Nothing was charged." in shown.text
    assert "Your booking is cancelled" in shown.text


async def test_someone_elses_booking_cannot_be_released(site: Site):
    await site.log_in("user-1")
    booking_id = await _start_booking(site)
    await site.log_in("user-2")
    token = await _csrf(site, "/bookings")
    response = await site.client.post(f"/bookings/{booking_id}/release", data={"csrf_token": token})
    assert response.status_code == 404 and site.temporal.updates == []


async def test_the_book_page_shows_the_policy_reservations_answers(site: Site):
    await site.log_in()
    hotel_id, room_id = await _room(site)
    site.services.availability = [{"room_type_id": room_id, "rooms_left": 2}]
    page = await site.client.get("/book", params=_stay(hotel_id, room_id))
    assert page.status_code == 200
    until = datetime.combine(CHECK_IN_DAY, clock(14), UTC) - timedelta(hours=48)
    assert f"Free cancellation until {until:%-d %B %Y, %H:%M} UTC" in page.text
    assert "100.00 EUR (the first night)" in page.text
    assert site.services.calls["availability"][0].url.params["guests"] == "1"


async def test_the_book_page_never_offers_a_free_cancellation_already_past(site: Site):
    await site.log_in()
    hotel_id, room_id = await _room(site)
    site.services.availability = [{"room_type_id": room_id, "rooms_left": 2}]
    tomorrow = {
        **_stay(hotel_id, room_id),
        "check_in": (date.today() + timedelta(days=1)).isoformat(),
        "check_out": (date.today() + timedelta(days=2)).isoformat(),
    }
    page = await site.client.get("/book", params=tomorrow)
    assert page.status_code == 200
    assert "Free cancellation until" not in page.text
    assert "Free cancellation has ended for these dates" in page.text


async def test_paying_tokenizes_at_the_bank_and_submits_the_token(site: Site, caplog):
    caplog.set_level(logging.DEBUG)
    await site.log_in()
    booking_id = await _start_booking(site)
    token = await _csrf(site, f"/bookings/{booking_id}/checkout")
    response = await site.client.post(
        f"/bookings/{booking_id}/checkout", data={**CARD, "csrf_token": token}
    )
    assert response.status_code == 303, response.text
    assert response.headers["location"] == f"/bookings/{booking_id}"
    bank = site.services.calls["bank"][0]
    assert bank.headers["authorization"] == "Bearer pk_test_web"
    assert b'"number":"4242424242424242"' in bank.content.replace(b" ", b"")
    # The token is good only for this traveller's own booking.
    assert json.loads(bank.content)["customer"] == "user-1"
    workflow_id, name, arg = site.temporal.updates[0]
    assert (workflow_id, name) == (f"booking-{booking_id}", UPDATE_SUBMIT_PAYMENT)
    assert arg == PaymentSubmission(card_token="tok_test_1234abcd")
    # The card reaches the bank only: not the session store, not the logs. The checks look
    # for the card's own data: session ids, CSRF tokens and timestamps hold random digits.
    async with site.app.state.engine.connect() as conn:
        stored = [json.loads(r.data) for r in await conn.execute(select(sessions.c.data))]
    assert stored
    for text in _keys_and_strings(stored):
        assert text not in ("number", "cvc", CARD["cvc"])
        assert _digits(CARD["number"]) not in _digits(text)
    assert _digits(CARD["number"]) not in caplog.text.replace(" ", "")
    # The field's name, as a key or a form field: random session states may hold the letters.
    assert not re.search(r"[\"']cvc[\"']|\bcvc=", caplog.text, re.IGNORECASE)

    confirmation = await site.client.get(f"/bookings/{booking_id}")
    assert "Your booking is confirmed" in confirmation.text
    assert "SS-ABC123" in confirmation.text
    assert f"/bookings/{booking_id}/receipt" in confirmation.text


async def test_card_errors_sit_next_to_their_fields_and_nothing_is_submitted(site: Site):
    await site.log_in()
    booking_id = await _start_booking(site)
    token = await _csrf(site, f"/bookings/{booking_id}/checkout")
    response = await site.client.post(
        f"/bookings/{booking_id}/checkout",
        data={**CARD, "number": "12", "cvc": "x", "csrf_token": token},
    )
    assert response.status_code == 400
    assert 'id="number-error"' in response.text and 'id="cvc-error"' in response.text
    assert "bank" not in site.services.calls and site.temporal.updates == []


async def test_card_digits_other_than_0_to_9_are_errors_and_nothing_is_submitted(site: Site):
    await site.log_in()
    booking_id = await _start_booking(site)
    token = await _csrf(site, f"/bookings/{booking_id}/checkout")
    # Both pass `str.isdigit()`: superscript twos, and Arabic-Indic digits.
    response = await site.client.post(
        f"/bookings/{booking_id}/checkout",
        data={**CARD, "number": "²" * 16, "cvc": "١٢٣", "csrf_token": token},
    )
    assert response.status_code == 400
    assert 'id="number-error"' in response.text and 'id="cvc-error"' in response.text
    assert "bank" not in site.services.calls and site.temporal.updates == []


@pytest.mark.parametrize("name", BAD_NAMES)
async def test_a_cardholder_name_with_control_characters_is_an_error_and_not_sent(site: Site, name):
    await site.log_in()
    booking_id = await _start_booking(site)
    token = await _csrf(site, f"/bookings/{booking_id}/checkout")
    response = await site.client.post(
        f"/bookings/{booking_id}/checkout", data={**CARD, "holder": name, "csrf_token": token}
    )
    assert response.status_code == 400
    assert re.search(r'id="holder-error">The name on the card cannot contain', response.text)
    assert "bank" not in site.services.calls and site.temporal.updates == []


async def test_a_card_the_bank_refuses_is_an_error_on_the_number(site: Site):
    site.services.bank_status = 422
    await site.log_in()
    booking_id = await _start_booking(site)
    token = await _csrf(site, f"/bookings/{booking_id}/checkout")
    response = await site.client.post(
        f"/bookings/{booking_id}/checkout", data={**CARD, "csrf_token": token}
    )
    assert response.status_code == 400
    assert re.search(r'id="number-error">This card number is not valid', response.text)
    assert site.temporal.updates == []


async def test_the_banks_field_messages_are_put_in_words_on_their_field(site: Site):
    site.services.bank_status = 422
    site.services.bank_problem = {
        "type": "validation-error",
        "detail": "exp_year: the card has expired",
        "field": "exp_year",
        "errors": [{"field": "exp_year", "message": "the card has expired"}],
    }
    await site.log_in()
    booking_id = await _start_booking(site)
    token = await _csrf(site, f"/bookings/{booking_id}/checkout")
    response = await site.client.post(
        f"/bookings/{booking_id}/checkout", data={**CARD, "csrf_token": token}
    )
    assert response.status_code == 400
    assert "exp_year:" not in response.text and "the card has expired" not in response.text
    assert re.search(r'id="exp_year-error">This card has expired', response.text)


async def test_a_declined_booking_shows_the_reason_and_that_nothing_was_charged(site: Site):
    site.temporal.decline = True
    await site.log_in()
    booking_id = await _start_booking(site)
    token = await _csrf(site, f"/bookings/{booking_id}/checkout")
    await site.client.post(f"/bookings/{booking_id}/checkout", data={**CARD, "csrf_token": token})
    page = await site.client.get(f"/bookings/{booking_id}")
    assert "did not go through" in page.text
    assert "The card was declined." in page.text
    assert "Nothing was charged." in page.text


async def test_a_declined_card_returns_to_the_card_form_saying_why_then_another_pays(
    site: Site,
):
    site.temporal.declines_to_come = 1
    await site.log_in()
    booking_id = await _start_booking(site)
    checkout = f"/bookings/{booking_id}/checkout"
    token = await _csrf(site, checkout)
    declined = await site.client.post(checkout, data={**CARD, "csrf_token": token})
    assert declined.status_code == 303 and declined.headers["location"] == checkout
    page = await site.client.get(checkout)
    assert re.search(r'role="alert" id="declined">Your card has insufficient funds\.', page.text)
    assert "pay with another card" in page.text and "left to pay" in page.text
    assert 'id="card-form"' in page.text and "Try again" not in page.text
    token = await _csrf(site, checkout)
    paid = await site.client.post(checkout, data={**CARD, "csrf_token": token})
    assert paid.status_code == 303 and paid.headers["location"] == f"/bookings/{booking_id}"
    assert len(site.temporal.updates) == 2
    assert "Your booking is confirmed" in (await site.client.get(f"/bookings/{booking_id}")).text


async def test_progress_streams_as_server_sent_events_until_settled(site: Site):
    await site.log_in()
    booking_id = await _start_booking(site)
    page = await site.client.get(f"/bookings/{booking_id}")
    assert '<noscript><meta http-equiv="refresh"' in page.text, "the no-JS fallback"
    assert f'data-events="/bookings/{booking_id}/events"' in page.text
    view = site.temporal.views[f"booking-{booking_id}"]
    view.state = BookingState.FAILED  # settled: the stream sends once and ends
    response = await site.client.get(f"/bookings/{booking_id}/events")
    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.text.startswith("event: status\ndata: ")
    assert '"state": "FAILED"' in response.text and '"done": true' in response.text


async def test_receipt_is_proxied_with_the_travellers_own_token(site: Site):
    await site.log_in("user-1")
    booking_id = await _start_booking(site)
    site.temporal.views[f"booking-{booking_id}"].receipt_document_id = "doc-9"
    response = await site.client.get(f"/bookings/{booking_id}/receipt")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/pdf"
    assert response.content.startswith(b"%PDF")
    call = site.services.calls["pdf"][0]
    assert call.url.path == "/documents/doc-9"
    token = call.headers["authorization"].removeprefix("Bearer ")
    assert token.count(".") == 2  # the traveller's JWT from the code exchange


async def test_another_travellers_booking_is_404(site: Site):
    await site.log_in("user-1")
    booking_id = await _start_booking(site)
    site.client.cookies.clear()
    await site.log_in("user-2")
    for path in ("", "/checkout", "/receipt", "/cancel", "/events"):
        response = await site.client.get(f"/bookings/{booking_id}{path}")
        assert response.status_code == 404, path


async def test_unknown_booking_is_404(site: Site):
    await site.log_in()
    assert (await site.client.get("/bookings/nope")).status_code == 404


async def test_cancel_shows_the_refund_first_then_cancels(site: Site):
    await site.log_in()
    booking_id = await _start_booking(site)
    view = site.temporal.views[f"booking-{booking_id}"]
    view.state = BookingState.CONFIRMED
    page = await site.client.get(f"/bookings/{booking_id}/cancel")
    assert page.status_code == 200
    assert re.search(r'class="refund">300\.00 EUR', page.text)
    assert site.temporal.updates == []
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    response = await site.client.post(f"/bookings/{booking_id}/cancel", data={"csrf_token": token})
    assert response.status_code == 303
    assert site.temporal.updates[0][1] == UPDATE_CANCEL
    after = await site.client.get(f"/bookings/{booking_id}")
    assert "Your booking is cancelled" in after.text


async def test_cancel_without_csrf_token_is_refused(site: Site):
    await site.log_in()
    booking_id = await _start_booking(site)
    site.temporal.views[f"booking-{booking_id}"].state = BookingState.CONFIRMED
    response = await site.client.post(f"/bookings/{booking_id}/cancel", data={})
    assert response.status_code == 403
    assert site.temporal.updates == []


async def test_my_bookings_lists_only_mine_with_links(site: Site):
    await site.log_in("user-1")
    booking_id = await _start_booking(site)
    page = await site.client.get("/bookings")
    assert page.status_code == 200
    assert f"/bookings/{booking_id}" in page.text
    assert site.app.state.settings.temporal_ui_url not in page.text
    assert f"booking-{booking_id}" not in page.text
    # The last query is the list's (booking first looked for a pending one of the stay).
    assert site.temporal.queries[-1] == f"WorkflowType = '{WORKFLOW_TYPE}' AND UserId = 'user-1'"
    site.client.cookies.clear()
    await site.log_in("user-2")
    assert booking_id not in (await site.client.get("/bookings")).text


async def test_an_expired_access_token_is_refreshed_before_use(site: Site, monkeypatch):
    await site.log_in("user-1")
    booking_id = await _start_booking(site)
    site.temporal.views[f"booking-{booking_id}"].receipt_document_id = "doc-9"
    later = time.time() + 3600
    monkeypatch.setattr("web.pages.booking.time.time", lambda: later)
    response = await site.client.get(f"/bookings/{booking_id}/receipt")
    assert response.status_code == 200
    grants = [form_of(r)["grant_type"] for r in site.services.calls["/oauth2/token"]]
    assert grants == ["authorization_code", "refresh_token"]
    assert form_of(site.services.calls["/oauth2/token"][1])["refresh_token"] == "rt-user-1"


async def test_progress_events_follow_the_saga_until_it_settles(site: Site, monkeypatch):
    monkeypatch.setattr("web.pages.booking.SSE_POLL_SECONDS", 0.01)
    await site.log_in()
    booking_id = await _start_booking(site)
    view = site.temporal.views[f"booking-{booking_id}"]
    view.state = BookingState.PROCESSING_PAYMENT
    later = [
        [Step.HELD],  # the page's own status query
        [Step.HELD, Step.PAID],
        [Step.HELD, Step.PAID, Step.CONFIRMED, Step.CAPTURED, Step.RECEIPT, Step.EMAILED],
    ]
    original = FakeHandle.query

    async def advancing(handle, name, *, result_type, rpc_timeout=None):
        result = await original(handle, name, result_type=result_type)
        if later:
            view.steps = later.pop(0)
            if Step.EMAILED in view.steps:
                view.state = BookingState.CONFIRMED
        return result

    monkeypatch.setattr(FakeHandle, "query", advancing)
    response = await site.client.get(f"/bookings/{booking_id}/events")
    events = [
        json.loads(line[6:]) for line in response.text.splitlines() if line.startswith("data: ")
    ]
    assert [e["state"] for e in events][-1] == "CONFIRMED" and events[-1]["done"]
    assert events[0]["steps"] == ["held"]
    assert "emailed" in events[-1]["steps"] and len(events) >= 3


async def test_temporal_being_down_is_a_polite_503(site: Site, monkeypatch):
    async def refuse(settings):
        raise RuntimeError("connection refused")

    site.app.state.temporal = None
    monkeypatch.setattr("web.bookings.temporal_connect.connect", refuse)
    await site.log_in()
    response = await site.client.get("/bookings")
    assert response.status_code == 503
    assert "Bookings are unavailable right now" in response.text


async def test_a_hold_that_cannot_start_says_nothing_was_charged(site: Site, monkeypatch):
    async def refuse(*args, **kwargs):
        raise RPCError("unavailable", RPCStatusCode.UNAVAILABLE, b"")

    monkeypatch.setattr(site.temporal, "start_workflow", refuse)
    await site.log_in()
    hotel_id, room_id = await _room(site)
    token = await _csrf(
        site, "/book?" + "&".join(f"{k}={v}" for k, v in _stay(hotel_id, room_id).items())
    )
    response = await site.client.post(
        "/book", data={**_stay(hotel_id, room_id), "guest_name": "Ada", "csrf_token": token}
    )
    assert response.status_code == 503
    assert "Nothing was charged" in response.text


def _text_outside_links(html: str) -> str:
    """A page without the attributes that carry its links (where a booking's id belongs)."""
    return re.sub(r'\s(?:href|action|data-events)="[^"]*"', "", html)


def _named(site: Site, booking_id: str):
    view = site.temporal.views[f"booking-{booking_id}"]
    view.hotel_name = "Hôtel Lumière"
    view.room_type_name = "Double room"
    return view


def _day(day: date) -> str:
    return f"{day:%a} {day.day} {day:%b %Y}"


async def test_checkout_and_the_booking_page_name_what_was_booked_without_raw_ids(site: Site):
    await site.log_in()
    booking_id = await _start_booking(site)
    _named(site, booking_id)
    for path in (f"/bookings/{booking_id}/checkout", f"/bookings/{booking_id}"):
        page = await site.client.get(path)
        assert page.status_code == 200, path
        for shown in (
            "Hôtel Lumière",
            "Double room",
            _day(CHECK_IN_DAY),
            _day(CHECK_OUT_DAY),
            "2 nights",
            "300.00 EUR",
            "Awaiting payment",
        ):
            assert shown in page.text, (path, shown)
        assert booking_id not in _text_outside_links(page.text), path
        assert booking_id[:8].upper() in page.text  # the short reference


async def test_my_bookings_name_hotel_room_dates_nights_total_and_status(site: Site):
    await site.log_in()
    booking_id = await _start_booking(site)
    view = _named(site, booking_id)
    view.state = BookingState.CONFIRMED
    view.card_brand, view.card_last4 = "visa", "4242"
    assert "Paid with</dt><dd" in (await site.client.get(f"/bookings/{booking_id}")).text
    assert "Visa ending 4242" in (await site.client.get(f"/bookings/{booking_id}")).text
    page = await site.client.get("/bookings")
    item = page.text[page.text.index('class="card booking"') :]
    for shown in (
        "Hôtel Lumière",
        "Double room",
        _day(CHECK_IN_DAY),
        _day(CHECK_OUT_DAY),
        "2 nights",
        "300.00 EUR",
        "Confirmed",
    ):
        assert shown in item, shown
    assert booking_id not in _text_outside_links(page.text)
    assert f'href="/bookings/{booking_id}/receipt"' in page.text


async def test_my_bookings_still_lists_a_booking_whose_status_cannot_be_read(
    site: Site, monkeypatch
):
    await site.log_in()
    booking_id = await _start_booking(site)

    async def refused(self, name, *, result_type, rpc_timeout=None):
        raise RPCError("no worker", RPCStatusCode.UNAVAILABLE, b"")

    monkeypatch.setattr(FakeHandle, "query", refused)
    page = await site.client.get("/bookings")
    assert page.status_code == 200
    assert f'href="/bookings/{booking_id}"' in page.text
    assert "Awaiting payment" in page.text


async def test_my_bookings_answers_when_a_bookings_status_query_hangs(site: Site, monkeypatch):
    # A worker too busy to answer keeps a query waiting for as long as the caller lets it;
    # the page bounds that wait and lists the booking from what Temporal's lists say.
    await site.log_in()
    booking_id = await _start_booking(site)
    waits: list[timedelta | None] = []

    async def hangs(self, name, *, result_type, rpc_timeout=None):
        waits.append(rpc_timeout)
        if rpc_timeout is None:
            await asyncio.Event().wait()
        raise RPCError("Timeout expired", RPCStatusCode.CANCELLED, b"")

    monkeypatch.setattr(FakeHandle, "query", hangs)
    page = await asyncio.wait_for(site.client.get("/bookings"), timeout=20)
    assert page.status_code == 200
    assert f'href="/bookings/{booking_id}"' in page.text
    assert waits and all(w is not None and w <= timedelta(seconds=10) for w in waits)


def _cancelled(site: Site, booking_id: str, *, note: bool):
    view = _named(site, booking_id)
    view.state = BookingState.CANCELLED
    view.steps = [Step.HELD, Step.PAID, Step.CONFIRMED, Step.CAPTURED, Step.RECEIPT]
    view.steps += [Step.EMAILED, Step.REFUNDED, Step.RELEASED]
    view.receipt_document_id = "doc-receipt"
    view.refunded = 30000
    if note:
        view.steps += [Step.CANCELLATION_NOTE, Step.CANCELLATION_EMAILED]
        view.cancellation_document_id = "doc-note"
    return view


async def test_a_cancelled_booking_offers_its_cancellation_note_not_the_receipt(site: Site):
    await site.log_in()
    booking_id = await _start_booking(site)
    _cancelled(site, booking_id, note=True)
    page = await site.client.get(f"/bookings/{booking_id}")
    assert "Your booking is cancelled" in page.text
    assert f'href="/bookings/{booking_id}/cancellation-note"' in page.text
    assert f"/bookings/{booking_id}/receipt" not in page.text
    for step in ("refunded", "released", "cancellation_note", "cancellation_emailed"):
        assert re.search(rf'data-step="{step}" class="done"', page.text), step
    assert "Refund sent to your card" in page.text
    assert re.search(r'class="refunded">300\.00 EUR', page.text)
    listed = await site.client.get("/bookings")
    assert f'href="/bookings/{booking_id}/cancellation-note"' in listed.text
    assert f"/bookings/{booking_id}/receipt" not in listed.text
    note = await site.client.get(f"/bookings/{booking_id}/cancellation-note")
    assert note.status_code == 200
    assert note.headers["content-type"] == "application/pdf"
    assert site.services.calls["pdf"][-1].url.path == "/documents/doc-note"


async def test_a_cancellation_under_way_keeps_the_page_live_until_the_note_is_sent(site: Site):
    await site.log_in()
    booking_id = await _start_booking(site)
    _cancelled(site, booking_id, note=False)
    page = await site.client.get(f"/bookings/{booking_id}")
    assert 'data-settled="false"' in page.text
    assert re.search(r'data-step="cancellation_note" class="todo"', page.text)
    assert "cancellation note is on its way" in page.text
    assert f"/bookings/{booking_id}/receipt" not in page.text
    missing = await site.client.get(f"/bookings/{booking_id}/cancellation-note")
    assert missing.status_code == 404


async def test_a_room_released_before_paying_shows_no_refund_nor_note(site: Site):
    await site.log_in()
    booking_id = await _start_booking(site)
    view = _named(site, booking_id)
    view.state = BookingState.CANCELLED
    view.steps = [Step.HELD, Step.RELEASED]
    page = await site.client.get(f"/bookings/{booking_id}")
    assert 'data-settled="true"' in page.text
    assert "Refund sent" not in page.text and "cancellation note" not in page.text.lower()


async def test_the_guests_name_is_pre_filled_from_the_account(site: Site):
    await site.log_in()  # the access token names no one: the name comes from Users
    hotel_id, room_id = await _room(site)
    page = await site.client.get("/book", params=_stay(hotel_id, room_id))
    assert re.search(r'id="guest_name"[^>]*value="Ada"', page.text, re.S)
    asked = len(site.services.calls["users"])
    await site.client.get("/book", params=_stay(hotel_id, room_id))
    assert len(site.services.calls["users"]) == asked  # remembered in the session
