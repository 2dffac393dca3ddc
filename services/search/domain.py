"""Catalogue queries: city lookup and autocomplete, a city's hotels, one hotel."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from rapidfuzz import fuzz, process
from sqlalchemy.ext.asyncio import AsyncEngine

from services.common.db import fetch_all
from services.common.text import search_key
from services.search import api
from services.search.tables import cities, city_names, hotels, room_types

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


_CITY_BY_ID = sa.select(cities, _hotel_count).where(cities.c.id == sa.bindparam("city_id"))
# How many cities one name may pick between ("Springfield" has many; the page shows these).
MAX_SAME_NAME = 10


def _named(condition_on_key: Any, limit: int) -> sa.Select[Any]:
    """Cities whose own name, or another name, passes the condition on its search key.

    Each row says which: `known_as` is None for the city's own name, else the other name
    that matched. Own names rank first, then population.
    """
    own = sa.select(
        cities.c.id.label("city_id"), sa.null().label("known_as"), sa.literal(0).label("rank")
    ).where(condition_on_key(cities.c.search_key))
    other = sa.select(
        city_names.c.city_id, city_names.c.name.label("known_as"), sa.literal(1).label("rank")
    ).where(condition_on_key(city_names.c.search_key))
    matched = sa.union_all(own, other).subquery()
    return (
        sa.select(cities, _hotel_count, matched.c.known_as, matched.c.rank)
        .join(matched, matched.c.city_id == cities.c.id)
        .order_by(matched.c.rank, cities.c.population.desc(), cities.c.id)
        .limit(limit)
    )


def _distinct_cities(rows: Sequence[Any], limit: int) -> list[api.City]:
    """One City per id, in the order given (the best match of each city)."""
    found: dict[int, api.City] = {}
    for row in rows:
        if row.id not in found:
            found[row.id] = _city(row)
    return list(found.values())[:limit]


def _split_country(name: str) -> tuple[str, str | None]:
    """ "London, Canada" -> ("London", "canada"); "London, CA" too; "London" -> ("London", None)."""
    place, comma, country = name.rpartition(",")
    if comma and place.strip() and search_key(country):
        return place, search_key(country)
    return name, None


async def find_cities(engine: AsyncEngine, name: str) -> list[api.City]:
    """The cities a traveller may mean by `name`, the likeliest first.

    Own names before other names ("Roma" is Rome, Italy; "London" is London, GB before
    London, Canada), then population. "London, Canada" or "London, CA" picks by country.
    """
    place, country = _split_country(name)
    if country is not None:
        rows = await fetch_all(engine, _named(lambda key: key == search_key(place), 50))
        picked = [r for r in rows if country in (search_key(r.country), r.country_code.casefold())]
        if picked:
            return _distinct_cities(picked, MAX_SAME_NAME)
    rows = await fetch_all(engine, _named(lambda key: key == search_key(name), 50))
    return _distinct_cities(rows, MAX_SAME_NAME)


async def find_city(engine: AsyncEngine, name: str) -> api.City | None:
    """The city a traveller most likely means by `name` (see `find_cities`)."""
    found = await find_cities(engine, name)
    return found[0] if found else None


async def get_city(engine: AsyncEngine, city_id: int) -> api.City | None:
    """A city by id."""
    rows = await fetch_all(engine, _CITY_BY_ID, {"city_id": city_id})
    return _city(rows[0]) if rows else None


async def namesakes(engine: AsyncEngine, city: api.City) -> list[api.City]:
    """Other cities with the same own name (London, Canada for London, GB)."""
    rows = await fetch_all(
        engine,
        sa.select(cities, _hotel_count)
        .where(cities.c.search_key == search_key(city.name), cities.c.id != city.id)
        .order_by(cities.c.population.desc(), cities.c.id)
        .limit(MAX_SAME_NAME),
    )
    return [_city(row) for row in rows]


async def suggest_cities(engine: AsyncEngine, prefix: str, limit: int) -> list[api.City]:
    """Cities whose name, or another of their names, starts with `prefix`.

    Own names first, then population: "Mün" suggests Munich (as München), "Rom" Rome.
    """
    key = search_key(prefix)
    if not key:
        return []
    pattern = _escape_like(key) + "%"
    rows = await fetch_all(
        engine, _named(lambda column: column.like(pattern, escape="\\"), limit * 4)
    )
    return _distinct_cities(rows, limit)


@dataclass(frozen=True)
class NameIndex:
    """Every name of every city, folded, for "did you mean" (a few MB for the catalogue)."""

    keys: list[str]
    city_ids: list[int]

    @classmethod
    async def load(cls, engine: AsyncEngine) -> NameIndex:
        """All names from the database: cities' own, then their other names."""
        rows = await fetch_all(
            engine,
            sa.union_all(
                sa.select(cities.c.search_key, cities.c.id.label("city_id")),
                sa.select(city_names.c.search_key, city_names.c.city_id),
            ),
        )
        return cls([r.search_key for r in rows], [r.city_id for r in rows])

    def closest(self, text: str, limit: int) -> list[tuple[int, float]]:
        """(city id, score 0-100) of the names nearest to `text`, best city first."""
        key = search_key(text)
        if len(key) < 3:
            return []
        matches = process.extract(
            key, self.keys, scorer=fuzz.ratio, score_cutoff=DID_YOU_MEAN_CUTOFF, limit=limit * 20
        )
        best: dict[int, float] = {}
        for _, score, position in matches:
            city_id = self.city_ids[position]
            best[city_id] = max(best.get(city_id, 0.0), score)
        if not best:
            return []
        # Only the names about as near as the nearest: a far second guess only confuses.
        top = max(best.values())
        near = [(c, score) for c, score in best.items() if score >= top - DID_YOU_MEAN_SPREAD]
        return sorted(near, key=lambda item: -item[1])


# How alike (rapidfuzz's normalised Indel similarity, 0-100) a typo must be to a name:
# "Lodnon" is 83 to "London", "Pariss" 91 to "Paris".
DID_YOU_MEAN_CUTOFF = 78.0
DID_YOU_MEAN_SPREAD = 6.0


async def did_you_mean(
    engine: AsyncEngine, index: NameIndex, text: str, limit: int = 5
) -> list[api.City]:
    """The cities whose names are nearest to a name nobody has: best match, then biggest."""
    # Some tens of milliseconds of CPU over every name: off the event loop.
    scored = await asyncio.to_thread(index.closest, text, limit)
    if not scored:
        return []
    rows = await fetch_all(
        engine,
        sa.select(cities, _hotel_count).where(cities.c.id.in_([c for c, _ in scored])),
    )
    by_id = {row.id: _city(row) for row in rows}
    score = dict(scored)
    ranked = sorted(by_id.values(), key=lambda c: (-score[c.id], -c.population, c.id))
    return ranked[:limit]


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


async def hotels_page(
    engine: AsyncEngine,
    city: api.City,
    query: api.HotelQuery,
    namesakes: list[api.City] | None = None,
) -> api.HotelPage:
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
        namesakes=namesakes or [],
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
    namesakes: list[api.City] | None = None,
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
        "namesakes": [c.model_dump(mode="json") for c in namesakes or ()],
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
