import sqlalchemy as sa

from services.common.db import create_engine
from services.common.migrations import migrate
from services.search.seed import seed_catalogue
from services.search.tables import hotels


async def test_seed_is_a_noop_once_seeded_and_force_replaces(database_url):
    engine = create_engine(database_url)
    try:
        await migrate(engine, "services.search.migrations")
        first = await seed_catalogue(engine, 5_000_000)
        again = await seed_catalogue(engine, 5_000_000)
        forced = await seed_catalogue(engine, 5_000_000, force=True)
        async with engine.connect() as conn:
            names = (await conn.execute(sa.select(hotels.c.name).order_by(hotels.c.id))).scalars()
            names = list(names)
    finally:
        await engine.dispose()
    assert first.seeded and not again.seeded and forced.seeded
    assert first.hotels == again.hotels == forced.hotels == len(names) > 100
