"""A release fences off the hold: a confirm that reaches Reservations after the saga gave
up (buffered by a frozen process, say) never leaves a reservation behind."""

from tests.services.reservations.conftest import hold_body, rooms_left


async def _held(r, booking="b1"):
    return (await r.client.post("/holds", json=hold_body(booking), headers=r.service())).json()


async def test_the_sagas_release_after_a_late_confirm_cancels_the_reservation(reservations):
    r = reservations
    hold = await _held(r)
    late = await r.client.post(f"/holds/{hold['hold_id']}/confirm", headers=r.service())
    assert late.json()["status"] == "confirmed"
    released = await r.client.post(f"/holds/{hold['hold_id']}/release", headers=r.service())
    assert released.status_code == 200 and released.json()["status"] == "released"
    assert await rooms_left(r) == 5
    shown = await r.client.get(
        f"/reservations/{late.json()['reservation_id']}", headers=r.service()
    )
    assert shown.json()["status"] == "cancelled"
    again = await r.client.post(f"/holds/{hold['hold_id']}/release", headers=r.service())
    assert again.json()["status"] == "released"
    assert await rooms_left(r) == 5


async def test_a_confirm_after_the_release_is_refused_even_if_one_came_before(reservations):
    r = reservations
    hold = await _held(r)
    await r.client.post(f"/holds/{hold['hold_id']}/confirm", headers=r.service())
    await r.client.post(f"/holds/{hold['hold_id']}/release", headers=r.service())
    retried = await r.client.post(f"/holds/{hold['hold_id']}/confirm", headers=r.service())
    assert retried.status_code == 409
    assert retried.json()["type"].endswith("/hold-released")
    assert await rooms_left(r) == 5


async def test_a_travellers_release_leaves_a_confirmed_booking_alone(reservations):
    r = reservations
    hold = await _held(r)
    await r.client.post(f"/holds/{hold['hold_id']}/confirm", headers=r.service())
    user = r.user("user-1", "reservations:read reservations:write")
    mine = await r.client.post(f"/holds/{hold['hold_id']}/release", headers=user)
    assert mine.status_code == 200 and mine.json()["status"] == "confirmed"
    assert await rooms_left(r) == 4
