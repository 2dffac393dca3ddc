"""A traveller may keep at most N unpaid holds at a time (RESERVATIONS_MAX_UNPAID_HOLDS)."""

import asyncio
import datetime as dt

import pytest
import sqlalchemy as sa

from services.reservations.tables import holds
from tests.services.reservations.conftest import hold_body, rooms_left, start, stay


def _type(response):
    return response.json()["type"].rsplit("/", 1)[-1]


@pytest.fixture
async def limited(database_url, tmp_path):
    """Reservations with the product's default limit."""
    async with start(database_url, tmp_path, max_unpaid_holds=None) as running:
        yield running


async def _hold(r, booking_id, user="user-1", offset=10):
    body = hold_body(booking_id, user_id=user, **stay(offset))
    return await r.client.post("/holds", json=body, headers=r.service())


async def test_a_third_unpaid_hold_is_refused_naming_the_limit(limited):
    r = limited
    assert (await _hold(r, "b1", offset=10)).status_code == 201
    assert (await _hold(r, "b2", offset=20)).status_code == 201
    before = await rooms_left(r, **stay(30))
    response = await _hold(r, "b3", offset=30)
    assert response.status_code == 409, response.text
    problem = response.json()
    assert _type(response) == "too-many-holds"
    assert problem["field"] == "user_id" and problem["limit"] == 2
    assert "at most 2 rooms at a time without paying" in problem["detail"]
    assert await rooms_left(r, **stay(30)) == before  # nothing was taken
    # Another traveller is not limited by this one's holds; a retry of a kept hold replays.
    assert (await _hold(r, "b4", user="user-2", offset=30)).status_code == 201
    assert (await _hold(r, "b1", offset=10)).status_code == 200


async def test_paying_releasing_or_expiring_a_hold_makes_room_for_another(limited):
    r = limited
    first = (await _hold(r, "b1", offset=10)).json()
    second = (await _hold(r, "b2", offset=20)).json()
    third = (await _hold(r, "b3", offset=30)).json()
    assert (await _hold(r, "b3", offset=30)).status_code == 409
    confirmed = await r.client.post(f"/holds/{first['hold_id']}/confirm", headers=r.service())
    assert confirmed.status_code == 200
    assert (await _hold(r, "b3", offset=30)).status_code == 201
    del third
    assert (await _hold(r, "b4", offset=40)).status_code == 409
    released = await r.client.post(f"/holds/{second['hold_id']}/release", headers=r.service())
    assert released.status_code == 200
    assert (await _hold(r, "b4", offset=40)).status_code == 201
    # A hold past its expiry keeps nothing unpaid, swept or not.
    async with r.app.state.engine.begin() as conn:
        await conn.execute(
            holds.update()
            .where(holds.c.booking_id == "b4")
            .values(expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1))
        )
    assert (await _hold(r, "b5", offset=50)).status_code == 201


async def test_holds_racing_for_one_traveller_never_exceed_the_limit(limited):
    r = limited
    answers = await asyncio.gather(*(_hold(r, f"race-{i}", offset=10 + 3 * i) for i in range(6)))
    assert sorted(a.status_code for a in answers) == [201, 201, 409, 409, 409, 409]
    async with r.app.state.engine.connect() as conn:
        kept = await conn.execute(sa.select(sa.func.count()).where(holds.c.user_id == "user-1"))
        assert kept.scalar_one() == 2


async def test_the_limit_is_a_setting(database_url, tmp_path):
    async with start(database_url, tmp_path, max_unpaid_holds=1) as r:
        assert (await _hold(r, "b1", offset=10)).status_code == 201
        response = await _hold(r, "b2", offset=20)
        assert response.status_code == 409 and response.json()["limit"] == 1
