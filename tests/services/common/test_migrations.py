import asyncio
import sys

import sqlalchemy as sa

from services.common.db import create_engine
from services.common.migrations import migrate

V1 = "tests.services.common.sample_migrations_v1"
V2 = "tests.services.common.sample_migrations_v2"


async def test_upgrade_keeps_existing_rows_and_applies_each_version_once(database_url):
    engine = create_engine(database_url)
    try:
        assert await migrate(engine, V1) == [1]
        async with engine.begin() as conn:
            await conn.execute(sa.text("INSERT INTO notes (text) VALUES ('kept')"))

        assert await migrate(engine, V2) == [2]
        assert await migrate(engine, V2) == []

        async with engine.connect() as conn:
            rows = (await conn.execute(sa.text("SELECT text, author FROM notes"))).all()
        assert [tuple(r) for r in rows] == [("kept", "anonymous")]
    finally:
        await engine.dispose()


async def test_copies_starting_together_migrate_exactly_once(database_url):
    engines = [create_engine(database_url) for _ in range(4)]
    try:
        results = await asyncio.gather(*(migrate(e, V2) for e in engines))
        assert sorted(map(tuple, results)) == [(), (), (), (1, 2)]
        async with engines[0].connect() as conn:
            versions = (await conn.execute(sa.text("SELECT version FROM schema_migrations"))).all()
        assert sorted(v for (v,) in versions) == [1, 2]
    finally:
        for engine in engines:
            await engine.dispose()


async def test_an_up_to_date_database_is_checked_without_loading_alembic(database_url):
    engine = create_engine(database_url)
    try:
        assert await migrate(engine, V2) == [1, 2]
    finally:
        await engine.dispose()
    # A fresh process, as a service starting again: alembic stays out of its memory.
    code = (
        "import asyncio, sys\n"
        "from services.common.db import create_engine\n"
        "from services.common.migrations import migrate\n"
        "async def main():\n"
        f"    engine = create_engine({database_url!r})\n"
        f"    print(await migrate(engine, {V2!r}), 'alembic' in sys.modules)\n"
        "    await engine.dispose()\n"
        "asyncio.run(main())\n"
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", code, stdout=asyncio.subprocess.PIPE
    )
    out, _ = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0
    assert out.decode().split() == ["[]", "False"]
