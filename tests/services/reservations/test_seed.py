import sqlalchemy as sa

from services.common.catalogue import generate_hotels, load_cities
from services.common.db import create_engine
from services.common.migrations import migrate
from services.reservations.seed import seed_inventory
from services.reservations.tables import nights, room_types


async def test_seed_gives_every_catalogue_room_type_its_rooms_and_no_nights(database_url):
    engine = create_engine(database_url)
    try:
        await migrate(engine, "services.reservations.migrations")
        first = await seed_inventory(engine, 5_000_000)
        again = await seed_inventory(engine, 5_000_000)
        async with engine.connect() as conn:
            stored = {row.id: row for row in await conn.execute(sa.select(room_types))}
            night_rows = (
                await conn.execute(sa.select(sa.func.count()).select_from(nights))
            ).scalar_one()
    finally:
        await engine.dispose()
    catalogue = [
        r for h in generate_hotels(load_cities(5_000_000), 5_000_000) for r in h.room_types
    ]
    assert first.seeded and not again.seeded
    assert first.room_types == len(catalogue) == len(stored)
    for room in catalogue:
        row = stored[room.id]
        assert (row.hotel_id, row.capacity, row.nightly_rate, row.total_rooms) == (
            room.hotel_id,
            room.capacity,
            room.nightly_rate,
            room.total_rooms,
        )
        assert 3 <= row.total_rooms <= 40
    assert night_rows == 0
