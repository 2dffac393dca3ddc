"""One async SQLAlchemy engine per service: SQLite (WAL, busy timeout) or PostgreSQL."""

from __future__ import annotations

import sqlite3
import time
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy import event, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine, Row, make_url
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import StaticPool

from services.common.tracing import instrument_engine

SQLITE_BUSY_TIMEOUT_MS = 10_000

T = TypeVar("T")


def as_utc(value: datetime) -> datetime:
    """A time read from the database, as UTC (SQLite keeps no zone; everything stored is UTC)."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def is_sqlite(engine: AsyncEngine) -> bool:
    """Whether the engine talks to SQLite (which needs BEGIN IMMEDIATE for writes)."""
    return engine.dialect.name == "sqlite"


def create_engine(url: str, **kwargs: Any) -> AsyncEngine:
    """Build the engine for a service's database; for SQLite, create its folder first."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url, **kwargs)
        _configure_sqlite(engine)
        instrument_engine(engine.sync_engine)
        if database and database != ":memory:":
            _inline_readers[engine] = _inline_reader(parsed.set(drivername="sqlite+pysqlite"))
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    engine = create_async_engine(url, **kwargs)
    instrument_engine(engine.sync_engine)
    return engine


def _switch_to_wal(cursor: Any) -> None:
    """Put the database file in WAL mode (it stays so; later connections find it done).

    Copies of a service opening a new file together can be refused at once: switching
    upgrades a read lock, and SQLite answers "locked" without waiting when another
    connection is writing (waiting could deadlock). Such a refusal is tried again for up
    to the busy timeout; it blocks only a connection being opened, on a fresh file.
    """
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


def _configure_sqlite(engine: AsyncEngine) -> None:
    # pysqlite's own transaction handling defers BEGIN and cannot take the write lock up
    # front; SQLAlchemy's documented recipe turns it off and emits BEGIN itself, so that a
    # read-then-write transaction can ask for BEGIN IMMEDIATE and never fail to upgrade.
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        _switch_to_wal(cursor)
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        mode = connection.get_execution_options().get("sqlite_begin", "DEFERRED")
        if mode is not None:  # None: `read_connection`, statements run on their own
            connection.exec_driver_sql(f"BEGIN {mode}")


# SQLite engines' synchronous twins for `fetch_all`, each with one read-only connection.
_inline_readers: weakref.WeakKeyDictionary[AsyncEngine, Engine] = weakref.WeakKeyDictionary()


def _inline_reader(url: sa.URL) -> Engine:
    engine = sa.create_engine(
        url,
        poolclass=StaticPool,
        pool_reset_on_return=None,
        # Used by one thread at a time, whole statements at once; the thread may change
        # (a test client's loop), which sqlite3 itself handles (serialized mode).
        connect_args={"check_same_thread": False},
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # No BEGIN ever (each SELECT is atomic by itself), and no write by mistake. The
        # schema's WAL mode is the writer's to set; in it a reader never waits for a writer.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA query_only=ON")
        cursor.close()

    instrument_engine(engine)
    return engine


def reads_inline(engine: AsyncEngine) -> bool:
    """Whether `fetch_all` on this engine runs on the event loop (a SQLite file): then
    reads gain nothing from being run concurrently."""
    return engine in _inline_readers


async def fetch_all(
    engine: AsyncEngine, statement: sa.Executable, params: Mapping[str, Any] | None = None
) -> Sequence[Row[Any]]:
    """The rows of one read-only statement: the hot read paths' way to the database.

    On a SQLite file the statement runs right here, on the event loop, on a connection of
    its own: a read in WAL mode does not wait for writers, and a query of a few hundred
    microseconds costs less than aiosqlite's thread round trips (a read through
    `read_connection` makes five). Elsewhere it goes through the async engine.
    """
    reader = _inline_readers.get(engine)
    if reader is not None:
        with reader.connect() as connection:
            return connection.execute(statement, params).all()
    async with read_connection(engine) as connection:
        return (await connection.execute(statement, params)).all()


@dataclass(frozen=True)
class SqliteRead:
    """A read statement compiled once to SQLite's SQL, to run on the inline reader with
    plain values (`inline_rows`): for the one or two reads where SQLAlchemy's work per
    execution costs more than the query itself."""

    sql: str
    names: tuple[str, ...]
    constants: Mapping[str, Any]

    @classmethod
    def of(cls, statement: sa.Select[Any]) -> SqliteRead:
        """Compile `statement`; it must not use expanding (IN-list) parameters."""
        compiled = statement.compile(dialect=sqlite.dialect())
        constants = {
            name: value
            for name, value in compiled.params.items()
            if not compiled.binds[name].required
        }
        return cls(str(compiled), tuple(compiled.positiontup or ()), constants)


def inline_rows(
    engine: AsyncEngine, read: SqliteRead, values: Mapping[str, Any]
) -> list[tuple[Any, ...]] | None:
    """The rows of `read` with `values` (as the sqlite3 driver takes them: dates as ISO
    text), from the engine's inline reader; None if it has none (not a SQLite file)."""
    reader = _inline_readers.get(engine)
    if reader is None:
        return None
    merged = {**read.constants, **values}
    connection = reader.raw_connection()
    try:
        raw: sqlite3.Connection = connection.driver_connection  # type: ignore[assignment]
        rows: list[tuple[Any, ...]] = raw.execute(
            read.sql, [merged[name] for name in read.names]
        ).fetchall()
        return rows
    finally:
        connection.close()


async def dispose(engine: AsyncEngine) -> None:
    """Close an engine's connections (and those of its inline reader, if it has one)."""
    reader = _inline_readers.pop(engine, None)
    if reader is not None:
        reader.dispose()
    await engine.dispose()


@asynccontextmanager
async def write_transaction(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A transaction that may read then write: takes SQLite's write lock at BEGIN."""
    async with engine.connect() as connection:
        if is_sqlite(engine):
            await connection.execution_options(sqlite_begin="IMMEDIATE")
        async with connection.begin():
            yield connection


@asynccontextmanager
async def read_connection(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A connection for reads only. On SQLite it sends no BEGIN: each SELECT is atomic by
    itself, and aiosqlite's thread round trips are the cost of a hot read path."""
    async with engine.connect() as connection:
        if is_sqlite(engine):
            await connection.execution_options(sqlite_begin=None)
        yield connection


async def first_write_wins(
    write: Callable[[], Awaitable[T]], replay: Callable[[], Awaitable[T | None]]
) -> tuple[T, bool]:
    """Idempotent recording under a unique key: (answer, whether `write` recorded it).

    `write` inserts under the key in a transaction of its own and answers. When a
    concurrent request with the same key committed first, the insert fails on the unique
    constraint and that request's record stands: the answer is `replay`'s, read from it.
    `replay` answering None means nothing stands under the key, so the constraint that
    failed was another one: its error is raised.
    """
    try:
        return await write(), True
    except IntegrityError:
        answer = await replay()
        if answer is None:
            raise
        return answer, False


def dialect_insert(conn: AsyncConnection) -> Any:
    """The dialect's `insert` (for ON CONFLICT clauses): PostgreSQL's or SQLite's."""
    return postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert


async def ping(engine: AsyncEngine) -> None:
    """Raise unless the database answers a trivial query."""
    async with engine.connect() as connection:
        await connection.execute(text("SELECT 1"))
