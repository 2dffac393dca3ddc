"""The reconciler's view of Reservations: rooms kept for bookings that may have given up."""

import asyncio
import contextlib
import datetime as dt

import pytest
import sqlalchemy as sa

from services.reservations.tables import holds
from tests.services.reservations.conftest import hold_body, rooms_left
from tests.support.harness import problem_field

RECONCILER = "reservations:read reservations:write reservations:reconcile"
NOW = {"older_than": 0}


async def _suspects(r, **params):
    response = await r.client.get(
        "/reconciliation/suspects", params=params, headers=r.service(RECONCILER)
    )
    assert response.status_code == 200, response.text
    return [
        (s["booking_id"], s["kind"], s["hold_id"], s["reservation_id"])
        for s in response.json()["items"]
    ]


async def _hold(r, booking_id):
    response = await r.client.post("/holds", json=hold_body(booking_id), headers=r.service())
    assert response.status_code == 201, response.text
    return response.json()["hold_id"]


async def test_confirmed_reservations_are_listed_and_a_release_gives_their_rooms_back(
    reservations,
):
    r = reservations
    start = await rooms_left(r)
    kept = await _hold(r, "b-1")
    confirmed = await r.client.post(f"/holds/{kept}/confirm", headers=r.service())
    assert confirmed.status_code == 200, confirmed.text
    reservation_id = confirmed.json()["reservation_id"]
    await _hold(r, "b-2")  # only held, and not lapsed: not a suspect
    assert await _suspects(r) == []  # younger than the default grace
    assert await _suspects(r, **NOW) == [("b-1", "confirmed", kept, reservation_id)]
    # The booking gave up: the reconciler releases the hold, which cancels the reservation.
    released = await r.client.post(f"/holds/{kept}/release", headers=r.service())
    assert released.status_code == 200 and released.json()["status"] == "released"
    shown = await r.client.get(f"/reservations/{reservation_id}", headers=r.service())
    assert shown.json()["status"] == "cancelled"
    assert await _suspects(r, **NOW) == []
    assert await rooms_left(r) == start - 1  # b-2's hold only


async def test_holds_the_sweeper_missed_are_listed_as_lapsed(reservations):
    r = reservations
    r.app.state.sweeper.cancel()  # the sweeper is down
    with contextlib.suppress(asyncio.CancelledError):
        await r.app.state.sweeper
    hold_id = await _hold(r, "b-3")
    lapsed_at = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=20)
    async with r.app.state.engine.begin() as conn:
        await conn.execute(holds.update().where(holds.c.id == hold_id).values(expires_at=lapsed_at))
    assert await _suspects(r) == [("b-3", "lapsed", hold_id, None)]
    released = await r.client.post(f"/holds/{hold_id}/release", headers=r.service())
    assert released.json()["status"] == "released"
    assert await _suspects(r, **NOW) == []
    async with r.app.state.engine.connect() as conn:
        status = await conn.execute(sa.select(holds.c.status).where(holds.c.id == hold_id))
        assert status.scalar_one() == "released"


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"older_than": "-5"}, "older_than"),
        ({"within": "x"}, "within"),
        ({"older_than": "100", "within": "50"}, "within"),
        ({"limit": "0"}, "limit"),
        ({"user_id": "u"}, "user_id"),
    ],
)
async def test_bad_suspect_queries_name_the_parameter(reservations, params, field):
    response = await reservations.client.get(
        "/reconciliation/suspects", params=params, headers=reservations.service(RECONCILER)
    )
    assert response.status_code == 400, response.text
    assert problem_field(response) == field


async def test_the_suspects_need_the_reconcile_scope_and_a_service(reservations):
    r = reservations
    plain = await r.client.get("/reconciliation/suspects", headers=r.service())
    assert plain.status_code == 403
    assert "insufficient_scope" in plain.headers["www-authenticate"]
    traveller = await r.client.get(
        "/reconciliation/suspects", headers=r.user("user-1", "reservations:reconcile")
    )
    assert traveller.status_code == 403
    assert traveller.json()["type"].endswith("services-only")
