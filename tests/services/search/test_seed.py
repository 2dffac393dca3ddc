import sqlalchemy as sa

from services.common.db import create_engine
from services.common.migrations import migrate
from services.search.seed import seed_catalogue
from services.search.tables import city_names, hotels


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


async def test_a_catalogue_seeded_without_other_names_gets_them_on_the_next_seed(database_url):
    engine = create_engine(database_url)
    try:
        await migrate(engine, "services.search.migrations")
        await seed_catalogue(engine, 5_000_000)
        async with engine.begin() as conn:
            await conn.execute(city_names.delete())
        again = await seed_catalogue(engine, 5_000_000)
        async with engine.connect() as conn:
            keys = set((await conn.execute(sa.select(city_names.c.search_key))).scalars())
    finally:
        await engine.dispose()
    assert not again.seeded
    assert {"new york", "tokio"} <= keys
