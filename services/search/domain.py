"""Catalogue queries: city lookup and autocomplete, a city's hotels, one hotel."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from services.common.db import fetch_all
from services.common.text import search_key
from services.search import api
from services.search.tables import cities, hotels, room_types

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


_CITY_BY_KEY = (
    sa.select(cities, _hotel_count)
    .where(cities.c.search_key == sa.bindparam("key"))
    .order_by(cities.c.population.desc(), cities.c.id)
    .limit(1)
)
_CITY_BY_ID = sa.select(cities, _hotel_count).where(cities.c.id == sa.bindparam("city_id"))


async def find_city(engine: AsyncEngine, name: str) -> api.City | None:
    """The most populous city of that name, whatever its case and accents."""
    rows = await fetch_all(engine, _CITY_BY_KEY, {"key": search_key(name)})
    return _city(rows[0]) if rows else None


async def get_city(engine: AsyncEngine, city_id: int) -> api.City | None:
    """A city by id."""
    rows = await fetch_all(engine, _CITY_BY_ID, {"city_id": city_id})
    return _city(rows[0]) if rows else None


async def suggest_cities(engine: AsyncEngine, prefix: str, limit: int) -> list[api.City]:
    """Cities whose name starts with `prefix`, most populous first."""
    key = search_key(prefix)
    if not key:
        return []
    rows = await fetch_all(
        engine,
        sa.select(cities, _hotel_count)
        .where(cities.c.search_key.like(_escape_like(key) + "%", escape="\\"))
        .order_by(cities.c.population.desc(), cities.c.id)
        .limit(limit),
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
        # A tuple: a cached hotel then holds no container the collector must walk.
        "amenities": tuple(row.amenities.split(",")) if row.amenities else (),
        "from_rate": row.min_rate,
        "currency": row.currency,
    }


def _filters(city: api.City, query: api.HotelQuery) -> list[sa.ColumnElement[bool]]:
    """The catalogue's own filters: city, stars, amenities, name; price too without dates."""
    conditions: list[sa.ColumnElement[bool]] = [hotels.c.city_id == city.id]
    if query.stars:
        conditions.append(hotels.c.stars.in_(query.stars))
    for amenity in query.amenities or ():
        # Amenities are stored as sorted comma-separated slugs.
        padded = sa.literal(",") + hotels.c.amenities + sa.literal(",")
        conditions.append(padded.like(f"%,{_escape_like(amenity)},%", escape="\\"))
    if query.q:
        key = _escape_like(search_key(query.q))
        conditions.append(hotels.c.search_key.like(f"%{key}%", escape="\\"))
    if not query.dated:
        if query.min_price is not None:
            conditions.append(hotels.c.min_rate >= query.min_price)
        if query.max_price is not None:
            conditions.append(hotels.c.min_rate <= query.max_price)
    return conditions


_ORDER = {
    "distance": (hotels.c.distance_km, hotels.c.id),
    "stars": (hotels.c.stars.desc(), hotels.c.distance_km, hotels.c.id),
    "price": (hotels.c.min_rate, hotels.c.distance_km, hotels.c.id),
}


def _filtered(query: api.HotelQuery) -> bool:
    return bool(
        query.stars
        or query.amenities
        or query.q
        or query.min_price is not None
        or query.max_price is not None
    )


async def hotels_page(engine: AsyncEngine, city: api.City, query: api.HotelQuery) -> api.HotelPage:
    """One page of a city's hotels without dates, filtered and sorted in the database."""
    conditions = _filters(city, query)
    rows = await fetch_all(
        engine,
        sa.select(hotels)
        .where(*conditions)
        .order_by(*_ORDER[query.sort])
        .limit(query.page_size + 1)
        .offset((query.page - 1) * query.page_size),
    )
    total = city.hotel_count
    if _filtered(query):
        counted = await fetch_all(
            engine, sa.select(sa.func.count()).select_from(hotels).where(*conditions)
        )
        total = counted[0][0]
    return api.HotelPage(
        city=city,
        items=[api.HotelSummary(**_summary(r)) for r in rows[: query.page_size]],
        page=query.page,
        page_size=query.page_size,
        total=total,
        has_next=len(rows) > query.page_size,
    )


async def dated_candidates(
    engine: AsyncEngine, city: api.City, query: api.HotelQuery
) -> list[dict[str, Any]]:
    """Every hotel passing the catalogue's filters, to be priced for the stay in one call.

    Availability can only be known per stay, so paging happens after it: the whole
    candidate set (at most MAX_DATED_CANDIDATES, nearest first) is priced at once, which
    keeps totals exact, pages stable, and sorting by stay price correct. Each hotel comes
    as the JSON fields of `api.HotelSummary` (a dated search builds its page from them).
    """
    rows = await fetch_all(
        engine,
        sa.select(hotels)
        .where(*_filters(city, query))
        .order_by(hotels.c.distance_km, hotels.c.id)
        .limit(api.MAX_DATED_CANDIDATES),
    )
    return [_summary(r) for r in rows]


def dated_page(
    city: api.City,
    query: api.HotelQuery,
    candidates: list[dict[str, Any]],
    offers: dict[int, dict[str, Any]],
) -> dict[str, Any]:
    """A page of the candidates that have a room for the stay, within the price range.

    The JSON of an `api.HotelPage`, built from plain dicts: a dated search is the hot path,
    and a pydantic object per hotel cost more than the rest of the page.
    """
    found = []
    for hotel in candidates:
        offer = offers.get(hotel["id"])
        if offer is None:
            continue
        nightly = offer["total"] // offer["nights"]
        if query.min_price is not None and nightly < query.min_price:
            continue
        if query.max_price is not None and nightly > query.max_price:
            continue
        found.append((hotel, offer))
    if query.sort == "price":
        found.sort(key=lambda h: (h[1]["total"], h[0]["distance_km"], h[0]["id"]))
    elif query.sort == "stars":
        found.sort(key=lambda h: (-h[0]["stars"], h[0]["distance_km"], h[0]["id"]))
    start = (query.page - 1) * query.page_size
    return {
        "city": city.model_dump(mode="json"),
        "items": [
            {**hotel, "stay": offer} for hotel, offer in found[start : start + query.page_size]
        ],
        "page": query.page,
        "page_size": query.page_size,
        "total": len(found),
        "has_next": len(found) > start + query.page_size,
    }


async def get_hotel(engine: AsyncEngine, hotel_id: int) -> api.Hotel | None:
    """A hotel with its city and room types, cheapest first."""
    found = await fetch_all(engine, sa.select(hotels).where(hotels.c.id == hotel_id))
    if not found:
        return None
    row = found[0]
    city = await get_city(engine, row.city_id)
    rooms = await fetch_all(
        engine,
        sa.select(room_types)
        .where(room_types.c.hotel_id == hotel_id)
        .order_by(room_types.c.nightly_rate, room_types.c.id),
    )
    return api.Hotel(
        **_summary(row),
        description=row.description,
        city=city,
        room_types=[api.RoomType.model_validate(r, from_attributes=True) for r in rooms],
    )
