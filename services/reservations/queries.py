"""What Reservations reads: holds, reservations, availability and the reconciler's
suspects. Nothing here moves a night's counters (`domain.py` does)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from services.common.db import SqliteRead, as_utc, fetch_all, inline_rows
from services.common.problems import not_found
from services.reservations import api
from services.reservations.tables import holds, nights, reservations, room_types


def stay_nights(check_in: dt.date, check_out: dt.date) -> list[dt.date]:
    """Every night of a stay, in date order."""
    return [check_in + dt.timedelta(days=i) for i in range((check_out - check_in).days)]


# ---------------------------------------------------------------------------- reading


def hold_of(row: Any) -> api.Hold:
    """A hold as the API answers it, from its row."""
    return api.Hold(
        hold_id=row.id,
        booking_id=row.booking_id,
        user_id=row.user_id,
        hotel_id=row.hotel_id,
        room_type_id=row.room_type_id,
        check_in=row.check_in,
        check_out=row.check_out,
        guests=row.guests,
        status=row.status,
        nights=row.nights,
        total=row.total,
        currency=row.currency,
        expires_at=as_utc(row.expires_at),
        created_at=as_utc(row.created_at),
    )


_reservation_columns = (
    reservations.c.id.label("reservation_id"),
    reservations.c.confirmation_code,
    reservations.c.status.label("reservation_status"),
    reservations.c.created_at.label("reserved_at"),
    reservations.c.cancelled_at,
    *holds.c,
)


def reservation_of(row: Any) -> api.Reservation:
    """A reservation as the API answers it, from its row joined with its hold's."""
    return api.Reservation(
        reservation_id=row.reservation_id,
        confirmation_code=row.confirmation_code,
        hold_id=row.id,
        booking_id=row.booking_id,
        user_id=row.user_id,
        hotel_id=row.hotel_id,
        room_type_id=row.room_type_id,
        check_in=row.check_in,
        check_out=row.check_out,
        guests=row.guests,
        nights=row.nights,
        total=row.total,
        currency=row.currency,
        status=row.reservation_status,
        created_at=as_utc(row.reserved_at),
        cancelled_at=as_utc(row.cancelled_at) if row.cancelled_at else None,
    )


def reservations_query() -> sa.Select[Any]:
    """Reservations joined with their holds, the columns `reservation_of` reads."""
    return sa.select(*_reservation_columns).join(holds, holds.c.id == reservations.c.hold_id)


async def get_hold(conn: AsyncConnection, hold_id: str) -> api.Hold | None:
    """A hold by id."""
    row = (await conn.execute(sa.select(holds).where(holds.c.id == hold_id))).first()
    return hold_of(row) if row else None


async def get_reservation(conn: AsyncConnection, reservation_id: str) -> api.Reservation | None:
    """A reservation by id."""
    query = reservations_query().where(reservations.c.id == reservation_id)
    row = (await conn.execute(query)).first()
    return reservation_of(row) if row else None


async def reservation_of_hold(conn: AsyncConnection, hold_id: str) -> api.Reservation | None:
    """The reservation a hold became, if it became one."""
    row = (await conn.execute(reservations_query().where(holds.c.id == hold_id))).first()
    return reservation_of(row) if row else None


async def list_reservations(
    conn: AsyncConnection, user_id: str | None, limit: int
) -> list[api.Reservation]:
    """Reservations, newest first; one user's when `user_id` is given."""
    query = reservations_query()
    if user_id is not None:
        query = query.where(holds.c.user_id == user_id)
    query = query.order_by(reservations.c.created_at.desc(), reservations.c.id).limit(limit)
    return [reservation_of(row) for row in await conn.execute(query)]


# One statement for every availability read, built once: the room types of some hotels
# that fit the party, each with its busiest night of the stay (a night without a row counts
# as empty), cheapest first. Building it per request cost more than running it.
_busiest_night = (
    sa.select(sa.func.coalesce(sa.func.max(nights.c.held + nights.c.reserved), 0))
    .where(
        nights.c.room_type_id == room_types.c.id,
        nights.c.night >= sa.bindparam("check_in", type_=sa.Date),
        nights.c.night < sa.bindparam("check_out", type_=sa.Date),
    )
    .scalar_subquery()
)


def _availability(hotel_ids: sa.ColumnElement[bool]) -> sa.Select[Any]:
    return (
        sa.select(
            room_types.c.hotel_id,
            room_types.c.id,
            room_types.c.capacity,
            room_types.c.total_rooms - _busiest_night,
            room_types.c.nightly_rate,
            room_types.c.currency,
        )
        .where(hotel_ids, room_types.c.capacity >= sa.bindparam("guests", type_=sa.Integer))
        .order_by(room_types.c.nightly_rate, room_types.c.id)
    )


_AVAILABILITY = _availability(room_types.c.hotel_id.in_(sa.bindparam("hotel_ids", expanding=True)))
# On a SQLite file: the same query as SQL compiled once, the hotel ids as one JSON array,
# run on the inline reader (SQLAlchemy's work per execution cost twice the query's).
_SQLITE_AVAILABILITY = SqliteRead.of(
    _availability(
        room_types.c.hotel_id.in_(
            sa.select(sa.literal_column("value")).select_from(
                sa.func.json_each(sa.bindparam("hotel_ids_json"))
            )
        )
    )
)


async def availability(
    engine: AsyncEngine, hotel_ids: Sequence[int], stay: api.Stay, best_only: bool = False
) -> list[dict[str, Any]]:
    """Rooms left for the whole stay and its price, per room type fitting the party.

    One indexed query whatever the number of hotels. Each hotel in the order asked (once),
    as `HotelAvailability` fields; its room types cheapest first, or with `best_only` just
    the cheapest with a room left (or none). Plain dicts: the batch form is a hot path.
    """
    count = (stay.check_out - stay.check_in).days
    rows: Sequence[Any] | None = inline_rows(
        engine,
        _SQLITE_AVAILABILITY,
        {
            "hotel_ids_json": json.dumps(list(hotel_ids)),
            "guests": stay.guests,
            "check_in": stay.check_in.isoformat(),
            "check_out": stay.check_out.isoformat(),
        },
    )
    if rows is None:
        rows = await fetch_all(
            engine,
            _AVAILABILITY,
            {
                "hotel_ids": list(hotel_ids),
                "guests": stay.guests,
                "check_in": stay.check_in,
                "check_out": stay.check_out,
            },
        )
    by_hotel: dict[int, list[dict[str, Any]]] = {h: [] for h in hotel_ids}
    for row in rows:
        hotel_id, room_type_id, capacity, left, rate, currency = tuple(row)
        found = by_hotel[hotel_id]
        if best_only and (found or left <= 0):
            continue
        found.append(
            {
                "room_type_id": room_type_id,
                "capacity": capacity,
                "rooms_left": max(0, left),
                "nightly_rate": rate,
                "total": rate * count,
                "currency": currency,
            }
        )
    return [
        {"hotel_id": hotel_id, "nights": count, "room_types": found}
        for hotel_id, found in by_hotel.items()
    ]


# ---------------------------------------------------------------------------- reconciliation


async def suspects(
    conn: AsyncConnection, query: api.SuspectQuery, now: dt.datetime
) -> list[api.ReservationSuspect]:
    """Confirmed reservations made in the window, and live holds past their expiry by the
    grace (the sweeper missed them), oldest first: the reconciler checks their bookings."""
    newest = now - dt.timedelta(seconds=query.older_than)
    oldest = now - dt.timedelta(seconds=query.within)
    confirmed = (
        sa.select(
            holds.c.booking_id,
            holds.c.id.label("hold_id"),
            reservations.c.id.label("reservation_id"),
            reservations.c.created_at.label("since"),
        )
        .join(holds, holds.c.id == reservations.c.hold_id)
        .where(
            reservations.c.status == api.RESERVATION_CONFIRMED,
            reservations.c.created_at <= newest,
            reservations.c.created_at >= oldest,
        )
        .order_by(reservations.c.created_at, reservations.c.id)
        .limit(query.limit)
    )
    lapsed = (
        sa.select(holds.c.booking_id, holds.c.id.label("hold_id"), holds.c.expires_at)
        .where(
            holds.c.status == api.HOLD_HELD,
            holds.c.expires_at <= newest,
            holds.c.created_at >= oldest,
        )
        .order_by(holds.c.expires_at, holds.c.id)
        .limit(query.limit)
    )
    found = [
        api.ReservationSuspect(
            booking_id=row.booking_id,
            kind=api.SUSPECT_CONFIRMED,
            hold_id=row.hold_id,
            reservation_id=row.reservation_id,
            since=as_utc(row.since),
        )
        for row in await conn.execute(confirmed)
    ] + [
        api.ReservationSuspect(
            booking_id=row.booking_id,
            kind=api.SUSPECT_LAPSED,
            hold_id=row.hold_id,
            since=as_utc(row.expires_at),
        )
        for row in await conn.execute(lapsed)
    ]
    found.sort(key=lambda s: (s.since, s.booking_id))
    return found[: query.limit]


async def room_type_of(conn: AsyncConnection, request: api.HoldRequest) -> Any:
    row = (
        await conn.execute(sa.select(room_types).where(room_types.c.id == request.room_type_id))
    ).first()
    if row is not None and row.hotel_id == request.hotel_id:
        return row
    hotel_known = (
        await conn.execute(
            sa.select(room_types.c.id).where(room_types.c.hotel_id == request.hotel_id).limit(1)
        )
    ).first()
    if hotel_known is None:
        problem = not_found("hotel", request.hotel_id)
        problem.field = "hotel_id"
    else:
        problem = not_found("room type of this hotel", request.room_type_id)
        problem.field = "room_type_id"
    raise problem
