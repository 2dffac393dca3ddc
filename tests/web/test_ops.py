"""The operator pages (/ops): a 404 for anonymous visitors and travellers, and for an
operator the bookings of everyone, one booking's workflow, and actions kept with who and why."""

from __future__ import annotations

import re
from datetime import date, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest

from services.common.settings import SettingsError
from tests.web.conftest import Site
from workflows.models import (
    UPDATE_CANCEL,
    UPDATE_RESEND_CONFIRMATION,
    WORKFLOW_TYPE,
    BookingState,
    BookingView,
    Operator,
    Step,
)

OPERATOR_SCOPE = "profile reservations:read ops:read ops:write"
CHECK_IN_DAY = date.today() + timedelta(days=10)


def _booking(site: Site, booking_id: str, user_id: str, state=BookingState.CONFIRMED) -> None:
    site.temporal.views[f"booking-{booking_id}"] = BookingView(
        booking_id=booking_id,
        user_id=user_id,
        state=state,
        steps=[Step.HELD, Step.PAID, Step.CONFIRMED, Step.CAPTURED, Step.RECEIPT, Step.EMAILED],
        hotel_id=7,
        room_type_id=21,
        check_in=CHECK_IN_DAY,
        check_out=CHECK_IN_DAY + timedelta(days=2),
        guests=2,
        total=30000,
        currency="EUR",
        confirmation_code="SS-ABC123",
        receipt_document_id="doc-1",
    )


async def _sign_in(site: Site, user_id: str, scope: str, path: str = "/auth/login") -> str:
    """Sign in through `path`, the auth service granting `scope`; the scope the website
    asked for."""
    site.services.next_user, site.services.next_scope = user_id, scope
    start = await site.client.get(path)
    query = parse_qs(urlsplit(start.headers["location"]).query)
    done = await site.client.get(f"/auth/callback?code=good&state={query['state'][0]}")
    assert done.status_code == 303, done.text
    return query["scope"][0]


async def _operator(site: Site) -> None:
    asked = await _sign_in(site, "user-grace", OPERATOR_SCOPE, "/auth/login?as=operator")
    assert {"ops:read", "ops:write"} <= set(asked.split())


OPS_PATHS = (
    ("GET", "/ops"),
    ("GET", "/ops/bookings/b1"),
    ("GET", "/ops/bookings/nope"),
    ("POST", "/ops/bookings/b1/cancel"),
    ("GET", "/ops/bookings/b1/cancel"),
    ("POST", "/ops/bookings/b1/resend"),
)


@pytest.mark.parametrize(("method", "path"), OPS_PATHS)
async def test_ops_is_a_404_for_anonymous_visitors(site: Site, method, path):
    _booking(site, "b1", "user-1")
    response = await site.client.request(method, path)
    assert response.status_code == 404
    assert site.temporal.queries == [] and site.temporal.updates == []
    # The same page as for a path that does not exist: nothing says /ops is there.
    assert response.text == (await site.client.get("/no-such-page")).text


@pytest.mark.parametrize(("method", "path"), OPS_PATHS)
async def test_ops_is_a_404_for_a_traveller_even_one_who_asked_for_operator_scopes(
    site: Site, method, path
):
    _booking(site, "b1", "user-1")
    # The auth service grants a traveller no operator scope, whatever the sign-in asks.
    await _sign_in(site, "user-1", "profile reservations:read", "/auth/login?as=operator")
    csrf = await site.csrf("/")
    response = await site.client.request(
        method, path, data={"csrf_token": csrf, "reason": "x"} if method == "POST" else None
    )
    assert response.status_code == 404
    assert site.temporal.queries == [] and site.temporal.updates == []
    assert 'href="/ops"' not in (await site.client.get("/bookings")).text


async def test_a_travellers_sign_in_asks_for_no_operator_scope(site: Site):
    asked = await _sign_in(site, "user-1", "profile")
    assert "ops:" not in asked


async def test_an_operator_lists_everyones_bookings_and_filters_them(site: Site):
    _booking(site, "b1", "user-1")
    _booking(site, "b2", "user-2", BookingState.FAILED)
    await _operator(site)
    assert 'href="/ops"' in (await site.client.get("/")).text
    page = await site.client.get("/ops")
    assert page.status_code == 200
    assert "/ops/bookings/b1" in page.text and "/ops/bookings/b2" in page.text
    failed = await site.client.get(
        "/ops",
        params={"status": "FAILED", "hotel_id": "7", "check_in": CHECK_IN_DAY.isoformat()},
    )
    assert "/ops/bookings/b2" in failed.text and "/ops/bookings/b1" not in failed.text
    day = CHECK_IN_DAY.isoformat()
    after = (CHECK_IN_DAY + timedelta(days=1)).isoformat()
    assert site.temporal.queries[-1] == (
        f"WorkflowType = '{WORKFLOW_TYPE}' AND BookingStatus = 'FAILED' AND HotelId = '7' "
        f"AND CheckIn >= '{day}T00:00:00Z' AND CheckIn < '{after}T00:00:00Z'"
    )
    mine = await site.client.get("/ops", params={"user_id": "user-1"})
    assert "/ops/bookings/b1" in mine.text and "/ops/bookings/b2" not in mine.text


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("user_id", "x' OR UserId != '"),
        ("status", "PAID"),
        ("hotel_id", "7 OR 1"),
        ("hotel_id", "²"),
        ("hotel_id", "١٢"),
        ("check_in", "soon"),
    ],
)
async def test_a_filter_value_that_is_not_one_is_an_error_not_a_clause(site: Site, field, value):
    await _operator(site)
    page = await site.client.get("/ops", params={field: value})
    assert page.status_code == 400
    assert f'id="{field}-error"' in page.text
    assert all(value not in query for query in site.temporal.queries)


async def test_an_operator_sees_a_bookings_workflow_and_cancels_it_saying_why(site: Site):
    _booking(site, "b1", "user-1")
    await _operator(site)
    page = await site.client.get("/ops/bookings/b1")
    assert page.status_code == 200
    ui = site.app.state.settings.temporal_ui_url
    assert f"{ui}/namespaces/default/workflows/booking-b1" in page.text
    assert "user-1" in page.text and "emailed" in page.text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    done = await site.client.post(
        "/ops/bookings/b1/cancel", data={"csrf_token": csrf, "reason": "hotel flooded"}
    )
    assert done.status_code == 303 and done.headers["location"] == "/ops/bookings/b1"
    (update,) = site.temporal.updates
    assert update[:2] == ("booking-b1", UPDATE_CANCEL)
    assert update[2].operator == Operator(user_id="user-grace")
    assert update[2].reason == "hotel flooded"
    after = await site.client.get("/ops/bookings/b1")
    assert "CANCELLED" in after.text
    assert re.search(r"cancel</strong> by .*user-grace.*hotel flooded", after.text)


async def test_an_operator_resends_the_confirmation_saying_why(site: Site):
    _booking(site, "b1", "user-1")
    await _operator(site)
    csrf = await site.csrf("/ops/bookings/b1")
    done = await site.client.post(
        "/ops/bookings/b1/resend", data={"csrf_token": csrf, "reason": "lost the e-mail"}
    )
    assert done.status_code == 303
    (update,) = site.temporal.updates
    assert update[1] == UPDATE_RESEND_CONFIRMATION and update[2].reason == "lost the e-mail"
    assert "lost the e-mail" in (await site.client.get("/ops/bookings/b1")).text


async def test_an_action_needs_a_reason_and_the_forms_csrf_token(site: Site):
    _booking(site, "b1", "user-1")
    await _operator(site)
    no_csrf = await site.client.post("/ops/bookings/b1/cancel", data={"reason": "because"})
    assert no_csrf.status_code == 403
    csrf = await site.csrf("/ops/bookings/b1")
    no_reason = await site.client.post(
        "/ops/bookings/b1/cancel", data={"csrf_token": csrf, "reason": "  "}
    )
    assert no_reason.status_code == 303
    assert site.temporal.updates == []
    assert "Say why" in (await site.client.get("/ops/bookings/b1")).text


async def test_an_operator_finds_the_failed_bookings_in_the_temporal_ui_from_ops(site: Site):
    await _operator(site)
    page = await site.client.get("/ops")
    link = re.search(
        r'<a href="([^"]+)"[^>]*>Failed and expired bookings in the Temporal UI</a>', page.text
    )
    assert link, page.text
    target = urlsplit(link.group(1).replace("&amp;", "&"))
    assert f"{target.scheme}://{target.netloc}" == site.app.state.settings.temporal_ui_url
    assert parse_qs(target.query)["query"] == [
        f'WorkflowType="{WORKFLOW_TYPE}" AND BookingStatus IN ("FAILED", "EXPIRED")'
    ]


TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"


async def test_a_bookings_page_shows_its_trace_linked_to_the_configured_viewer(site: Site):
    _booking(site, "b1", "user-1")
    view = site.temporal.views["booking-b1"]
    site.temporal.views["booking-b1"] = view.model_copy(update={"trace_id": TRACE_ID})
    _booking(site, "b2", "user-2")
    await _operator(site)

    page = await site.client.get("/ops/bookings/b1")
    assert f"<code>{TRACE_ID}</code>" in page.text
    assert "Open its trace" not in page.text
    untraced = await site.client.get("/ops/bookings/b2")
    assert "started without tracing" in untraced.text

    site.app.state.settings = site.app.state.settings.with_overrides(
        STAYSAGA_TRACE_URL="http://127.0.0.1:16686/trace/{trace_id}"
    )
    page = await site.client.get("/ops/bookings/b1")
    assert f'<a href="http://127.0.0.1:16686/trace/{TRACE_ID}"' in page.text
    assert "Open its trace" in page.text


@pytest.mark.parametrize(
    ("value", "message"),
    [("jaeger/trace/{trace_id}", "http:// or https://"), ("http://jaeger/trace", "{trace_id}")],
)
def test_a_trace_link_without_a_url_or_the_id_is_refused(site: Site, value, message):
    with pytest.raises(SettingsError) as refused:
        site.app.state.settings.with_overrides(STAYSAGA_TRACE_URL=value)
    assert refused.value.variable == "STAYSAGA_TRACE_URL" and message in str(refused.value)
