import asyncio
import datetime as dt
import functools

import pytest
import sqlalchemy as sa
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine

from services.common.db import (
    SqliteRead,
    as_utc,
    create_engine,
    dispose,
    fetch_all,
    first_write_wins,
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


async def _notes_by_key(engine: AsyncEngine) -> None:
    async with write_transaction(engine) as conn:
        await conn.execute(
            text(
                "CREATE TABLE notes (key VARCHAR(20) PRIMARY KEY,"
                " body VARCHAR(20) NOT NULL CHECK (body <> ''))"
            )
        )


async def _write_note(engine: AsyncEngine, key: str, body: str) -> str:
    async with write_transaction(engine) as conn:
        await conn.execute(
            text("INSERT INTO notes (key, body) VALUES (:key, :body)"), {"key": key, "body": body}
        )
    return body


async def _stored_note(engine: AsyncEngine, key: str, replays: list[str]) -> str | None:
    replays.append(key)
    async with engine.connect() as conn:
        found = await conn.execute(text("SELECT body FROM notes WHERE key = :key"), {"key": key})
        return found.scalar_one_or_none()


async def test_of_concurrent_writes_under_one_key_the_first_stands_and_the_other_replays_it(
    database_url,
):
    engine = create_engine(database_url)
    replays: list[str] = []
    replay = functools.partial(_stored_note, engine, "k", replays)
    try:
        await _notes_by_key(engine)
        answers = await asyncio.gather(
            first_write_wins(functools.partial(_write_note, engine, "k", "first"), replay),
            first_write_wins(functools.partial(_write_note, engine, "k", "second"), replay),
        )
        stored = await _stored_note(engine, "k", [])
    finally:
        await dispose(engine)
    assert sorted(created for _, created in answers) == [False, True]
    assert [body for body, _ in answers] == [stored, stored]
    assert replays == ["k"]  # only the write that lost asks what stands


async def test_a_write_refused_by_another_constraint_raises_when_nothing_stands_under_its_key(
    database_url,
):
    engine = create_engine(database_url)
    replays: list[str] = []
    try:
        await _notes_by_key(engine)
        with pytest.raises(IntegrityError):
            await first_write_wins(
                functools.partial(_write_note, engine, "k", ""),
                functools.partial(_stored_note, engine, "k", replays),
            )
        assert await _stored_note(engine, "k", []) is None
    finally:
        await dispose(engine)
    assert replays == ["k"]


async def test_a_time_read_back_is_the_utc_time_stored_whichever_the_database(database_url):
    stored = dt.datetime(2026, 11, 30, 23, 55, 18, tzinfo=dt.UTC)
    stamps = sa.Table("stamps", sa.MetaData(), sa.Column("at", sa.DateTime(timezone=True)))
    engine = create_engine(database_url)
    try:
        async with write_transaction(engine) as conn:
            await conn.run_sync(stamps.metadata.create_all)
            await conn.execute(stamps.insert().values(at=stored))
        async with read_connection(engine) as conn:
            raw = (await conn.execute(sa.select(stamps.c.at))).scalar_one()
    finally:
        await dispose(engine)
    read = as_utc(raw)
    assert read == stored and read.utcoffset() == dt.timedelta(0)
