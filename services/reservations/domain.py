"""Holds, reservations and availability over lazily created per-night counters.

The invariant is `held + reserved <= total_rooms` for every night of every room type. A
room is taken by an atomic conditional UPDATE (`held = held + 1 ... WHERE held + reserved
< total`) whose row count says whether it worked, never by reading and then writing; a
night's counter row is created just before (INSERT ... ON CONFLICT DO NOTHING), since a
night without a row is fully available. All nights of a stay are taken in one transaction
(BEGIN IMMEDIATE on SQLite), in date order.

Lock order, which keeps PostgreSQL free of deadlocks: every transaction touches at most
one hold's row first, then the nights of one room type in ascending date order. That is
why expired holds are given back each in its own transaction, never inside another one.
A transaction placing a hold takes its traveller's advisory lock before all of that (no
other transaction takes one), so that counting their unpaid holds is exact (`quota.py`).

Reads (holds, reservations, availability, the reconciler's suspects) are in `queries.py`;
every statement that moves a night's counters is here, where the lock order above can be
read and kept. Kept whole for that reason: split up, the statements would hide the lock
order they must share.
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from services.common.db import (
    dialect_insert,
    first_write_wins,
    write_transaction,
)
from services.common.problems import Problem, ValidationProblem, not_found
from services.reservations import api
from services.reservations.queries import (
    get_hold,
    get_reservation,
    hold_of,
    reservation_of_hold,
    room_type_of,
    stay_nights,
)
from services.reservations.quota import limit_unpaid_holds
from services.reservations.tables import holds, nights, reservations, room_types

log = logging.getLogger("staysaga.reservations")

# No 0/O, 1/I/L, 2/Z, 5/S, 8/B: a code read over the phone survives.
CONFIRMATION_ALPHABET = "ACDEFGHJKMNPQRTUVWXY34679"
CONFIRMATION_LENGTH = 8


def utcnow() -> dt.datetime:
    """The current time, timezone-aware UTC."""
    return dt.datetime.now(dt.UTC)


def validate_stay(stay: api.Stay, now: dt.datetime, status: int = 422) -> None:
    """Refuse impossible stays, naming the field: order, length, past or too far ahead."""
    problem = api.stay_problem(stay.check_in, stay.check_out, now)
    if problem:
        raise ValidationProblem([{"field": problem[0], "message": problem[1]}], status=status)


# ---------------------------------------------------------------------------- holds


def _same_request(row: Any, request: api.HoldRequest) -> bool:
    return bool(
        row.user_id == request.user_id
        and row.hotel_id == request.hotel_id
        and row.room_type_id == request.room_type_id
        and row.check_in == request.check_in
        and row.check_out == request.check_out
        and row.guests == request.guests
    )


async def _replay(conn: AsyncConnection, request: api.HoldRequest) -> api.Hold | None:
    row = (
        await conn.execute(sa.select(holds).where(holds.c.booking_id == request.booking_id))
    ).first()
    if row is None:
        return None
    if not _same_request(row, request):
        raise Problem(
            422,
            "idempotency-mismatch",
            "This booking already holds something else.",
            f"booking_id {request.booking_id!r} was used with a different request.",
            field="booking_id",
        )
    return hold_of(row)


async def create_hold(
    engine: AsyncEngine,
    request: api.HoldRequest,
    ttl_seconds: int,
    now: dt.datetime,
    max_unpaid: int = 2,
) -> tuple[api.Hold, bool]:
    """Hold one room for every night of the stay, or nothing; (hold, newly created).

    Idempotent on booking_id: the same request returns the existing hold; another request
    under the same booking_id is refused, as is a new hold for a traveller who already
    keeps `max_unpaid` unpaid ones.
    """
    validate_stay(request, now)
    async with engine.connect() as conn:
        existing = await _replay(conn, request)
        if existing is not None:
            return existing, False
    # Give back this room type's expired holds first (each in its own transaction, to
    # keep the lock order), so a lapsed hold never makes a room look sold out.
    await expire_due_holds(engine, now, room_type_id=request.room_type_id)

    async def replay() -> api.Hold | None:
        async with engine.connect() as conn:
            return await _replay(conn, request)

    return await first_write_wins(
        lambda: _take_rooms(engine, request, ttl_seconds, now, max_unpaid), replay
    )


async def _take_rooms(
    engine: AsyncEngine,
    request: api.HoldRequest,
    ttl_seconds: int,
    now: dt.datetime,
    max_unpaid: int,
) -> api.Hold:
    async with write_transaction(engine) as conn:
        existing = await _replay(conn, request)
        if existing is not None:
            return existing
        await limit_unpaid_holds(conn, request.user_id, max_unpaid, now)
        room = await room_type_of(conn, request)
        if request.guests > room.capacity:
            raise ValidationProblem(
                [{"field": "guests", "message": f"this room sleeps at most {room.capacity}"}]
            )
        stay = stay_nights(request.check_in, request.check_out)
        priced = [{"night": night.isoformat(), "price": room.nightly_rate} for night in stay]
        hold_id = str(uuid.uuid4())
        await conn.execute(
            holds.insert().values(
                id=hold_id,
                booking_id=request.booking_id,
                user_id=request.user_id,
                hotel_id=request.hotel_id,
                room_type_id=request.room_type_id,
                check_in=request.check_in,
                check_out=request.check_out,
                guests=request.guests,
                status=api.HOLD_HELD,
                nights=priced,
                total=sum(p["price"] for p in priced),
                currency=room.currency,
                expires_at=now + dt.timedelta(seconds=ttl_seconds),
                created_at=now,
            )
        )
        insert = dialect_insert(conn)
        total = (
            sa.select(room_types.c.total_rooms)
            .where(room_types.c.id == request.room_type_id)
            .scalar_subquery()
        )
        for night in stay:
            await conn.execute(
                insert(nights)
                .values(room_type_id=request.room_type_id, night=night, held=0, reserved=0)
                .on_conflict_do_nothing(index_elements=["room_type_id", "night"])
            )
            taken = await conn.execute(
                nights.update()
                .where(
                    nights.c.room_type_id == request.room_type_id,
                    nights.c.night == night,
                    nights.c.held + nights.c.reserved < total,
                )
                .values(held=nights.c.held + 1)
            )
            if taken.rowcount != 1:
                # Raising rolls back every night taken so far, and the hold row.
                raise Problem(
                    409,
                    api.SOLD_OUT,
                    "No room of this type is left for your dates.",
                    f"The night of {night.isoformat()} is sold out.",
                    field="room_type_id",
                    night=night.isoformat(),
                )
        row = (await conn.execute(sa.select(holds).where(holds.c.id == hold_id))).one()
        return hold_of(row)


async def _give_back(conn: AsyncConnection, row: Any, counter: sa.Column[int]) -> None:
    """Return one room per night of a hold's stay to a counter, in date order."""
    for night in stay_nights(row.check_in, row.check_out):
        await conn.execute(
            nights.update()
            .where(nights.c.room_type_id == row.room_type_id, nights.c.night == night)
            .values({counter.name: counter - 1})
        )


async def _end_hold(engine: AsyncEngine, hold_id: str, status: api.HoldStatus) -> bool:
    """Move a live hold to released/expired and free its nights; False if it was not live."""
    async with write_transaction(engine) as conn:
        ended = await conn.execute(
            holds.update()
            .where(holds.c.id == hold_id, holds.c.status == api.HOLD_HELD)
            .values(status=status)
        )
        if ended.rowcount != 1:
            return False
        row = (await conn.execute(sa.select(holds).where(holds.c.id == hold_id))).one()
        await _give_back(conn, row, nights.c.held)
        return True


async def release_hold(
    engine: AsyncEngine, hold_id: str, *, undo_confirm: bool = False
) -> api.Hold:
    """Give a hold's rooms back; idempotent (a released or expired hold is returned as it is).

    A confirmed hold is returned as it is too, unless `undo_confirm`: the saga releases only
    when it gave up before confirming, so a confirm that reached us late (after the saga's
    deadline, say, from a frozen process's buffer) is undone and its reservation cancelled.
    """
    if not await _end_hold(engine, hold_id, api.HOLD_RELEASED) and undo_confirm:
        await _unconfirm(engine, hold_id, utcnow())
    async with engine.connect() as conn:
        hold = await get_hold(conn, hold_id)
    if hold is None:
        raise not_found("hold", hold_id)
    return hold


async def _unconfirm(engine: AsyncEngine, hold_id: str, now: dt.datetime) -> None:
    """Cancel the reservation a released hold's late confirm made, rooms back to inventory."""
    async with write_transaction(engine) as conn:
        undone = await conn.execute(
            holds.update()
            .where(holds.c.id == hold_id, holds.c.status == api.HOLD_CONFIRMED)
            .values(status=api.HOLD_RELEASED)
        )
        if undone.rowcount != 1:
            return
        row = (await conn.execute(sa.select(holds).where(holds.c.id == hold_id))).one()
        await conn.execute(
            reservations.update()
            .where(
                reservations.c.hold_id == hold_id,
                reservations.c.status == api.RESERVATION_CONFIRMED,
            )
            .values(status=api.RESERVATION_CANCELLED, cancelled_at=now)
        )
        await _give_back(conn, row, nights.c.reserved)
    log.warning(
        "hold %s was confirmed after the saga gave up on it; reservation cancelled", hold_id
    )


async def expire_due_holds(
    engine: AsyncEngine,
    now: dt.datetime,
    *,
    room_type_id: int | None = None,
    limit: int = 500,
) -> int:
    """Give back the rooms of live holds past their expiry; returns how many expired."""
    query = (
        sa.select(holds.c.id)
        .where(holds.c.status == api.HOLD_HELD, holds.c.expires_at <= now)
        .order_by(holds.c.expires_at, holds.c.id)
        .limit(limit)
    )
    if room_type_id is not None:
        query = query.where(holds.c.room_type_id == room_type_id)
    async with engine.connect() as conn:
        due = list((await conn.execute(query)).scalars())
    expired = 0
    for hold_id in due:
        expired += await _end_hold(engine, hold_id, api.HOLD_EXPIRED)
    return expired


# ---------------------------------------------------------------------------- reservations


def confirmation_code() -> str:
    """A random code a human can read out: 8 letters and digits, none easily confused."""
    return "".join(secrets.choice(CONFIRMATION_ALPHABET) for _ in range(CONFIRMATION_LENGTH))


async def confirm_hold(engine: AsyncEngine, hold_id: str, now: dt.datetime) -> api.Reservation:
    """Turn a live hold into a reservation; idempotent (a confirmed hold returns its
    reservation). An expired or released hold is refused with its own problem type."""
    async with write_transaction(engine) as conn:
        confirmed = await conn.execute(
            holds.update()
            .where(
                holds.c.id == hold_id,
                holds.c.status == api.HOLD_HELD,
                holds.c.expires_at > now,
            )
            .values(status=api.HOLD_CONFIRMED)
        )
        if confirmed.rowcount == 1:
            row = (await conn.execute(sa.select(holds).where(holds.c.id == hold_id))).one()
            for night in stay_nights(row.check_in, row.check_out):
                await conn.execute(
                    nights.update()
                    .where(nights.c.room_type_id == row.room_type_id, nights.c.night == night)
                    .values(held=nights.c.held - 1, reserved=nights.c.reserved + 1)
                )
            await conn.execute(
                reservations.insert().values(
                    id=str(uuid.uuid4()),
                    confirmation_code=confirmation_code(),
                    hold_id=hold_id,
                    status=api.RESERVATION_CONFIRMED,
                    created_at=now,
                )
            )
        reservation = await reservation_of_hold(conn, hold_id)
        hold = await get_hold(conn, hold_id)
        if reservation is not None and hold is not None and hold.status == api.HOLD_CONFIRMED:
            return reservation
    if hold is None:
        raise not_found("hold", hold_id)
    if hold.status == api.HOLD_RELEASED:
        raise Problem(409, api.RELEASED_HOLD, "This hold was released.", field="hold_id")
    # Expired, or past its expiry and not yet swept: give its rooms back now.
    await _end_hold(engine, hold_id, api.HOLD_EXPIRED)
    raise Problem(
        409,
        api.EXPIRED_HOLD,
        "This hold has expired.",
        f"It expired at {hold.expires_at.isoformat()}.",
        field="hold_id",
    )


async def cancel_reservation(
    engine: AsyncEngine, reservation_id: str, now: dt.datetime
) -> api.Reservation:
    """Cancel a reservation and return its nights to inventory; idempotent."""
    async with write_transaction(engine) as conn:
        row = (
            await conn.execute(
                sa.select(reservations.c.hold_id).where(reservations.c.id == reservation_id)
            )
        ).first()
        if row is None:
            raise not_found("reservation", reservation_id)
        hold = (await conn.execute(sa.select(holds).where(holds.c.id == row.hold_id))).one()
        cancelled = await conn.execute(
            reservations.update()
            .where(
                reservations.c.id == reservation_id,
                reservations.c.status == api.RESERVATION_CONFIRMED,
            )
            .values(status=api.RESERVATION_CANCELLED, cancelled_at=now)
        )
        if cancelled.rowcount == 1:
            await _give_back(conn, hold, nights.c.reserved)
        reservation = await get_reservation(conn, reservation_id)
    assert reservation is not None
    return reservation


# ---------------------------------------------------------------------------- inventory


async def update_inventory(
    engine: AsyncEngine, room_type_id: int, change: api.InventoryUpdate
) -> api.Inventory:
    """Change a room type's total rooms, rate or currency (for nights held from now on).

    Lowering the total below what is already held or reserved on some night is allowed
    (a hotel may lose rooms); such nights simply accept no new hold until it frees up.
    """
    values = change.model_dump(exclude_none=True)
    async with write_transaction(engine) as conn:
        if values:
            await conn.execute(
                room_types.update().where(room_types.c.id == room_type_id).values(**values)
            )
        row = (
            await conn.execute(sa.select(room_types).where(room_types.c.id == room_type_id))
        ).first()
    if row is None:
        raise not_found("room type", room_type_id)
    return api.Inventory(
        room_type_id=row.id,
        hotel_id=row.hotel_id,
        capacity=row.capacity,
        total_rooms=row.total_rooms,
        nightly_rate=row.nightly_rate,
        currency=row.currency,
    )
