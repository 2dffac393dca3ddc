"""Catalogue queries: city lookup and autocomplete, a city's hotels, one hotel."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from services.common.text import search_key
from services.search import api
from services.search.models import cities, hotels, room_types

_hotel_count = (
    sa.select(sa.func.count())
    .select_from(hotels)
    .where(hotels.c.city_id == cities.c.id)
    .scalar_subquery()
    .label("hotel_count")
)


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _city(row: Any) -> api.City:
    return api.City.model_validate(row, from_attributes=True)


async def find_city(conn: AsyncConnection, name: str) -> api.City | None:
    """The most populous city of that name, whatever its case and accents."""
    row = (
        await conn.execute(
            sa.select(cities, _hotel_count)
            .where(cities.c.search_key == search_key(name))
            .order_by(cities.c.population.desc(), cities.c.id)
            .limit(1)
        )
    ).first()
    return _city(row) if row else None


async def get_city(conn: AsyncConnection, city_id: int) -> api.City | None:
    """A city by id."""
    row = (
        await conn.execute(sa.select(cities, _hotel_count).where(cities.c.id == city_id))
    ).first()
    return _city(row) if row else None


async def suggest_cities(conn: AsyncConnection, prefix: str, limit: int) -> list[api.City]:
    """Cities whose name starts with `prefix`, most populous first."""
    key = search_key(prefix)
    if not key:
        return []
    rows = await conn.execute(
        sa.select(cities, _hotel_count)
        .where(cities.c.search_key.like(_escape_like(key) + "%", escape="\\"))
        .order_by(cities.c.population.desc(), cities.c.id)
        .limit(limit)
    )
    return [_city(row) for row in rows]


def _summary(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": row.name,
        "stars": row.stars,
        "address": row.address,
        "city_id": row.city_id,
        "latitude": row.latitude,
        "longitude": row.longitude,
        "distance_km": row.distance_km,
        "amenities": row.amenities.split(",") if row.amenities else [],
        "from_rate": row.min_rate,
        "currency": row.currency,
    }


async def hotels_page(
    conn: AsyncConnection, city: api.City, page: int, page_size: int
) -> api.HotelPage:
    """One page of a city's hotels, nearest to the centre first."""
    rows = (
        await conn.execute(
            sa.select(hotels)
            .where(hotels.c.city_id == city.id)
            .order_by(hotels.c.distance_km, hotels.c.id)
            .limit(page_size + 1)
            .offset((page - 1) * page_size)
        )
    ).all()
    return api.HotelPage(
        city=city,
        items=[api.HotelSummary(**_summary(r)) for r in rows[:page_size]],
        page=page,
        page_size=page_size,
        total=city.hotel_count,
        has_next=len(rows) > page_size,
    )


async def get_hotel(conn: AsyncConnection, hotel_id: int) -> api.Hotel | None:
    """A hotel with its city and room types, cheapest first."""
    row = (await conn.execute(sa.select(hotels).where(hotels.c.id == hotel_id))).first()
    if row is None:
        return None
    city = await get_city(conn, row.city_id)
    rooms = await conn.execute(
        sa.select(room_types)
        .where(room_types.c.hotel_id == hotel_id)
        .order_by(room_types.c.nightly_rate, room_types.c.id)
    )
    return api.Hotel(
        **_summary(row),
        description=row.description,
        city=city,
        room_types=[api.RoomType.model_validate(r, from_attributes=True) for r in rooms],
    )
