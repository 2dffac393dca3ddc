"""Loads room inventory for the demo catalogue (`staysaga seed`): per room type its total
rooms, capacity and nightly rate. Nights stay lazy: a night nobody held has no row."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from itertools import islice

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from services.common.catalogue import DEFAULT_MIN_POPULATION, generate_hotels, load_cities
from services.common.db import write_transaction
from services.reservations.tables import holds, nights, reservations, room_types

log = logging.getLogger("staysaga.reservations.seed")
_CHUNK = 2000


@dataclass(frozen=True)
class InventorySeedResult:
    """What a seed run did."""

    seeded: bool
    room_types: int


async def seed_inventory(
    engine: AsyncEngine, min_population: int = DEFAULT_MIN_POPULATION, *, force: bool = False
) -> InventorySeedResult:
    """Fill empty inventory (or replace it and every hold, with force); else a no-op."""
    async with write_transaction(engine) as conn:
        existing = (
            await conn.execute(sa.select(sa.func.count()).select_from(room_types))
        ).scalar_one()
        if existing and not force:
            return InventorySeedResult(False, existing)
        for table in (reservations, holds, nights, room_types):
            await conn.execute(table.delete())
        count = 0
        generated = generate_hotels(load_cities(min_population), min_population)
        while batch := list(islice(generated, _CHUNK)):
            rows = [
                {
                    "id": r.id,
                    "hotel_id": r.hotel_id,
                    "capacity": r.capacity,
                    "total_rooms": r.total_rooms,
                    "nightly_rate": r.nightly_rate,
                    "currency": r.currency,
                }
                for hotel in batch
                for r in hotel.room_types
            ]
            await conn.execute(room_types.insert(), rows)
            count += len(rows)
    log.info("seeded the inventory", extra={"room_types": count})
    return InventorySeedResult(True, count)
