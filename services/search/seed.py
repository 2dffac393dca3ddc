"""Loads the generated catalogue into the Search database (`staysaga seed`)."""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from itertools import islice
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from services.common.catalogue import (
    DEFAULT_MIN_POPULATION,
    generate_hotels,
    load_cities,
    load_city_names,
)
from services.common.db import write_transaction
from services.search.tables import cities, city_names, hotels, room_types

log = logging.getLogger("staysaga.search.seed")
_CHUNK = 2000


@dataclass(frozen=True)
class SeedResult:
    """What a seed run did."""

    seeded: bool
    cities: int
    hotels: int
    room_types: int


async def seed_catalogue(
    engine: AsyncEngine, min_population: int = DEFAULT_MIN_POPULATION, *, force: bool = False
) -> SeedResult:
    """Fill an empty catalogue (or replace it, with force); a no-op on a seeded one."""
    async with write_transaction(engine) as conn:
        existing = (await conn.execute(sa.select(sa.func.count()).select_from(cities))).scalar()
        if existing and not force:
            # A catalogue seeded before cities had other names gets them, as they are.
            await _add_missing_city_names(conn)
            counts = [
                (await conn.execute(sa.select(sa.func.count()).select_from(t))).scalar_one()
                for t in (cities, hotels, room_types)
            ]
            return SeedResult(False, *counts)
        for table in (room_types, hotels, city_names, cities):
            await conn.execute(table.delete())
        city_rows = load_cities(min_population)
        for chunk in _chunks([asdict(c) for c in city_rows]):
            await conn.execute(cities.insert(), chunk)
        for chunk in _chunks([asdict(n) for n in load_city_names(min_population)]):
            await conn.execute(city_names.insert(), chunk)
        hotel_count = room_type_count = 0
        generated = generate_hotels(city_rows, min_population)
        while batch := list(islice(generated, _CHUNK)):
            await conn.execute(
                hotels.insert(),
                [{k: v for k, v in asdict(h).items() if k != "room_types"} for h in batch],
            )
            # Room counts are Reservations' data (inventory), not the catalogue's.
            rooms = [
                {k: v for k, v in asdict(r).items() if k != "total_rooms"}
                for h in batch
                for r in h.room_types
            ]
            await conn.execute(room_types.insert(), rooms)
            hotel_count += len(batch)
            room_type_count += len(rooms)
    log.info(
        "seeded the catalogue",
        extra={"cities": len(city_rows), "hotels": hotel_count, "room_types": room_type_count},
    )
    return SeedResult(True, len(city_rows), hotel_count, room_type_count)


async def _add_missing_city_names(conn: AsyncConnection) -> None:
    """Fill an empty city_names table for the cities already there (prices untouched)."""
    if (await conn.execute(sa.select(sa.func.count()).select_from(city_names))).scalar():
        return
    present = set((await conn.execute(sa.select(cities.c.id))).scalars())
    least = (await conn.execute(sa.select(sa.func.min(cities.c.population)))).scalar_one()
    rows = [asdict(n) for n in load_city_names(least) if n.city_id in present]
    for chunk in _chunks(rows):
        await conn.execute(city_names.insert(), chunk)
    log.info("added other city names", extra={"names": len(rows)})


def _chunks(rows: list[dict[str, Any]], size: int = _CHUNK) -> list[list[dict[str, Any]]]:
    return [rows[i : i + size] for i in range(0, len(rows), size)]
