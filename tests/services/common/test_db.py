from sqlalchemy import text

from services.common.db import create_engine, read_connection, write_transaction


async def test_read_connection_reads_without_holding_a_sqlite_transaction(database_url):
    engine = create_engine(database_url)
    try:
        async with write_transaction(engine) as conn:
            await conn.execute(text("CREATE TABLE notes (id INTEGER PRIMARY KEY)"))
            await conn.execute(text("INSERT INTO notes (id) VALUES (1), (2)"))
        async with read_connection(engine) as conn:
            count = (await conn.execute(text("SELECT count(*) FROM notes"))).scalar_one()
            if engine.dialect.name == "sqlite":
                raw = await conn.get_raw_connection()
                assert not raw.driver_connection._conn.in_transaction
            # A writer is not blocked by an open reader.
            async with write_transaction(engine) as writer:
                await writer.execute(text("INSERT INTO notes (id) VALUES (3)"))
    finally:
        await engine.dispose()
    assert count == 2
