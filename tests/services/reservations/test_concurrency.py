import asyncio
import datetime as dt
import random
from collections import Counter

import sqlalchemy as sa

from services.reservations.tables import holds, nights
from tests.services.reservations.conftest import hold_body

ATTEMPTS = 200
ROOMS = 5


async def test_concurrent_overlapping_holds_never_overbook(reservations):
    r = reservations
    await r.client.put("/inventory/11", json={"total_rooms": ROOMS}, headers=r.admin())
    rng = random.Random(7)
    pivot = dt.date.today() + dt.timedelta(days=20)
    bodies = []
    for i in range(ATTEMPTS):
        # Every stay includes the pivot night, so exactly ROOMS of them can succeed,
        # whatever the interleaving; their other nights overlap in every way.
        check_in = pivot - dt.timedelta(days=rng.randint(0, 4))
        check_out = pivot + dt.timedelta(days=rng.randint(1, 4))
        bodies.append(
            hold_body(
                f"booking-{i}",
                check_in=check_in.isoformat(),
                check_out=check_out.isoformat(),
            )
        )
    headers = r.service()
    responses = await asyncio.gather(
        *(r.client.post("/holds", json=body, headers=headers) for body in bodies)
    )
    statuses = Counter(response.status_code for response in responses)
    assert statuses == {201: ROOMS, 409: ATTEMPTS - ROOMS}, statuses
    assert all(
        response.json()["type"].endswith("/sold-out")
        for response in responses
        if response.status_code == 409
    )
    async with r.app.state.engine.connect() as conn:
        live = (await conn.execute(sa.select(holds).where(holds.c.status == "held"))).all()
        counters = {
            row.night: (row.held, row.reserved)
            for row in await conn.execute(sa.select(nights).where(nights.c.room_type_id == 11))
        }
    assert len(live) == ROOMS
    expected: Counter[dt.date] = Counter()
    for hold in live:
        for i in range((hold.check_out - hold.check_in).days):
            expected[hold.check_in + dt.timedelta(days=i)] += 1
    assert {night: held for night, (held, _) in counters.items() if held} == dict(expected)
    assert all(held + reserved <= ROOMS for held, reserved in counters.values())
    assert counters[pivot] == (ROOMS, 0)


async def test_concurrent_holds_releases_and_confirms_keep_counters_equal_to_rows(reservations):
    r = reservations
    headers = r.service()
    rng = random.Random(11)
    start = dt.date.today() + dt.timedelta(days=30)

    async def one(i: int) -> None:
        check_in = start + dt.timedelta(days=rng.randint(0, 6))
        check_out = check_in + dt.timedelta(days=rng.randint(1, 4))
        body = hold_body(f"mix-{i}", check_in=check_in.isoformat(), check_out=check_out.isoformat())
        response = await r.client.post("/holds", json=body, headers=headers)
        if response.status_code != 201:
            assert response.status_code == 409, response.text
            return
        hold_id = response.json()["hold_id"]
        action = ("release", "confirm", "keep")[i % 3]
        if action != "keep":
            done = await r.client.post(f"/holds/{hold_id}/{action}", headers=headers)
            assert done.status_code == 200, done.text
        if action == "confirm" and i % 2:
            reservation_id = done.json()["reservation_id"]
            cancelled = await r.client.post(
                f"/reservations/{reservation_id}/cancel", headers=headers
            )
            assert cancelled.status_code == 200

    await asyncio.gather(*(one(i) for i in range(ATTEMPTS)))
    async with r.app.state.engine.connect() as conn:
        rows = (await conn.execute(sa.select(holds).where(holds.c.room_type_id == 11))).all()
        status_of = dict(
            (await conn.execute(sa.text("SELECT hold_id, status FROM reservations"))).all()
        )
        counters = {
            row.night: (row.held, row.reserved)
            for row in await conn.execute(sa.select(nights).where(nights.c.room_type_id == 11))
        }
    expected_held: Counter[dt.date] = Counter()
    expected_reserved: Counter[dt.date] = Counter()
    for hold in rows:
        stay = [
            hold.check_in + dt.timedelta(days=i)
            for i in range((hold.check_out - hold.check_in).days)
        ]
        if hold.status == "held":
            expected_held.update(stay)
        elif hold.status == "confirmed" and status_of[hold.id] == "confirmed":
            expected_reserved.update(stay)
    for night, (held, reserved) in counters.items():
        assert held == expected_held[night], night
        assert reserved == expected_reserved[night], night
        assert held + reserved <= ROOMS
