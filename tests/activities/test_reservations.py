"""The reservations activities against the real Reservations app (in process)."""

from __future__ import annotations

import datetime as dt

import httpx
import pytest
from temporalio.exceptions import ApplicationError

from activities import models as act
from activities.reconcile import ReservationReconcileActivities
from activities.reservations import ReservationActivities
from services.common.http import ServiceConnections
from tests.services.reservations.conftest import start
from tests.support.harness import activity_environment, settings_for
from tests.support.tokens import token_source


@pytest.fixture
async def world(tmp_path):
    async with start(f"sqlite+aiosqlite:///{tmp_path}/r.db", tmp_path, ttl=900) as running:
        http = httpx.AsyncClient(transport=httpx.ASGITransport(app=running.app))
        clients = ServiceConnections(
            settings_for(tmp_path),
            tokens=token_source(running.issuer, "worker-reservations"),
            http=http,
        )
        yield ReservationActivities(clients), running
        await http.aclose()


def _hold(booking_id: str, room_type_id: int = 11) -> act.HoldInput:
    check_in = dt.date.today() + dt.timedelta(days=10)
    return act.HoldInput(
        booking_id=booking_id,
        user_id="user-1",
        hotel_id=1 if room_type_id != 21 else 2,
        room_type_id=room_type_id,
        check_in=check_in,
        check_out=check_in + dt.timedelta(days=2),
        guests=2,
    )


async def test_hold_is_idempotent_and_priced_per_night(world):
    activities, _ = world
    env = activity_environment()
    first = await env.run(activities.hold_room, _hold("b1"))
    again = await env.run(activities.hold_room, _hold("b1"))
    assert first.hold_id == again.hold_id
    assert [n.price for n in first.nights] == [10_000, 10_000] and first.total == 20_000


async def test_no_room_left_is_a_non_retryable_sold_out(world):
    activities, _ = world
    env = activity_environment()
    await env.run(activities.hold_room, _hold("b1", room_type_id=12))
    await env.run(activities.hold_room, _hold("b2", room_type_id=12))
    with pytest.raises(ApplicationError) as caught:
        await env.run(activities.hold_room, _hold("b3", room_type_id=12))
    assert caught.value.type == act.SOLD_OUT and caught.value.non_retryable


async def test_confirm_then_cancel_and_release_are_idempotent(world):
    activities, running = world
    env = activity_environment()
    hold = await env.run(activities.hold_room, _hold("b1"))
    reservation = await env.run(activities.confirm_reservation, act.HoldRef(hold_id=hold.hold_id))
    again = await env.run(activities.confirm_reservation, act.HoldRef(hold_id=hold.hold_id))
    assert again == reservation and len(reservation.confirmation_code) == 8
    ref = act.ReservationRef(reservation_id=reservation.reservation_id)
    await env.run(activities.cancel_reservation, ref)
    await env.run(activities.cancel_reservation, ref)
    other = await env.run(activities.hold_room, _hold("b2"))
    await env.run(activities.release_hold, act.HoldRef(hold_id=other.hold_id))
    await env.run(activities.release_hold, act.HoldRef(hold_id=other.hold_id))
    response = await running.client.get(
        f"/reservations/{reservation.reservation_id}", headers=running.service()
    )
    assert response.json()["status"] == "cancelled"


async def test_confirming_a_released_hold_is_a_non_retryable_hold_expired(world):
    activities, _ = world
    env = activity_environment()
    hold = await env.run(activities.hold_room, _hold("b1"))
    await env.run(activities.release_hold, act.HoldRef(hold_id=hold.hold_id))
    with pytest.raises(ApplicationError) as caught:
        await env.run(activities.confirm_reservation, act.HoldRef(hold_id=hold.hold_id))
    assert caught.value.type == act.HOLD_EXPIRED and caught.value.non_retryable


async def test_the_reconciler_lists_a_confirmed_reservation_and_gives_its_rooms_back(
    world, tmp_path
):
    activities, running = world
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=running.app))
    reconcile = ReservationReconcileActivities(
        ServiceConnections(
            settings_for(tmp_path),
            tokens=token_source(running.issuer, "worker-reservations"),
            http=http,
        )
    )
    env = activity_environment()
    hold = await env.run(activities.hold_room, _hold("b1"))
    await env.run(activities.confirm_reservation, act.HoldRef(hold_id=hold.hold_id))
    query = act.SuspectQuery(older_than_seconds=0, within_seconds=3600)
    found = await env.run(reconcile.list_reservation_suspects, query)
    assert found.items == [
        act.Suspect(booking_id="b1", kind=act.CONFIRMED_RESERVATION, hold_id=hold.hold_id)
    ]
    repaired = await env.run(reconcile.repair_reservation, found.items[0])
    assert (repaired.booking_id, repaired.changed) == ("b1", True)
    again = await env.run(reconcile.repair_reservation, found.items[0])
    assert again.changed is False
    assert (await env.run(reconcile.list_reservation_suspects, query)).items == []
    await http.aclose()


async def test_too_many_unpaid_holds_is_a_non_retryable_refusal_naming_the_limit(tmp_path):
    async with start(f"sqlite+aiosqlite:///{tmp_path}/r.db", tmp_path, max_unpaid_holds=2) as r:
        http = httpx.AsyncClient(transport=httpx.ASGITransport(app=r.app))
        connections = ServiceConnections(
            settings_for(tmp_path), tokens=token_source(r.issuer, "worker-reservations"), http=http
        )
        activities, env = ReservationActivities(connections), activity_environment()
        await env.run(activities.hold_room, _hold("b1", room_type_id=11))
        await env.run(activities.hold_room, _hold("b2", room_type_id=12))
        with pytest.raises(ApplicationError) as caught:
            await env.run(activities.hold_room, _hold("b3", room_type_id=11))
        await http.aclose()
    assert caught.value.type == act.TOO_MANY_HOLDS and caught.value.non_retryable
    assert "at most 2 rooms at a time" in caught.value.message
