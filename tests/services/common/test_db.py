import pytest
import sqlalchemy as sa
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from services.common.db import (
    SqliteRead,
    create_engine,
    dispose,
    fetch_all,
    inline_rows,
    read_connection,
    write_transaction,
)


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


async def test_fetch_all_sees_commits_but_not_a_writer_in_flight_and_never_waits_for_it(
    database_url,
):
    engine = create_engine(database_url)
    count = text("SELECT count(*) FROM notes")
    try:
        async with write_transaction(engine) as conn:
            await conn.execute(text("CREATE TABLE notes (id INTEGER PRIMARY KEY)"))
            await conn.execute(text("INSERT INTO notes (id) VALUES (1), (2)"))
        assert (await fetch_all(engine, count))[0][0] == 2
        async with write_transaction(engine) as writer:
            await writer.execute(text("INSERT INTO notes (id) VALUES (3)"))
            # On SQLite this runs on the event loop while the writer holds the write lock:
            # were it to wait for the lock, it would wait for ever.
            assert (await fetch_all(engine, count))[0][0] == 2
        rows = await fetch_all(
            engine, text("SELECT id FROM notes WHERE id >= :low ORDER BY id"), {"low": 2}
        )
        assert [row.id for row in rows] == [2, 3]
    finally:
        await dispose(engine)


async def test_the_inline_sqlite_reader_refuses_to_write(tmp_path):
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'test.db'}")
    try:
        async with write_transaction(engine) as conn:
            await conn.execute(text("CREATE TABLE notes (id INTEGER PRIMARY KEY)"))
        with pytest.raises(OperationalError, match="readonly"):
            await fetch_all(engine, text("INSERT INTO notes (id) VALUES (1) RETURNING id"))
        assert await fetch_all(engine, text("SELECT id FROM notes")) == []
    finally:
        await dispose(engine)


async def test_a_compiled_sqlite_read_runs_inline_with_plain_values(database_url):
    notes = sa.table("notes", sa.column("id"))
    read = SqliteRead.of(
        sa.select(notes.c.id, sa.literal(7))
        .where(notes.c.id >= sa.bindparam("low"))
        .order_by(notes.c.id)
    )
    engine = create_engine(database_url)
    try:
        async with write_transaction(engine) as conn:
            await conn.execute(text("CREATE TABLE notes (id INTEGER PRIMARY KEY)"))
            await conn.execute(text("INSERT INTO notes (id) VALUES (1), (2), (3)"))
        rows = inline_rows(engine, read, {"low": 2})
        if engine.dialect.name != "sqlite":
            assert rows is None  # the caller takes the async path
            return
        assert rows == [(2, 7), (3, 7)]
        with pytest.raises(KeyError, match="low"):
            inline_rows(engine, read, {})
    finally:
        await dispose(engine)
