"""A seeded Search app per database backend, shared by the read-only Search tests.

Search answers dated queries by asking a real Reservations app (in process, over its
HTTP API, with a service token), seeded with the same catalogue's inventory.
"""

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette

from services.common.db import create_engine
from services.common.http import ServiceConnections
from services.common.migrations import migrate
from services.reservations.app import create_app as create_reservations_app
from services.reservations.seed import seed_inventory
from services.search.app import create_app
from services.search.seed import seed_catalogue
from tests.conftest import fresh_postgres_database
from tests.support.harness import running_app, settings_for
from tests.support.tokens import TestIssuer, token_source

# Cities of two million people or more: Paris is in, the seed takes about a second.
TEST_MIN_POPULATION = 2_000_000


@dataclass
class CallLog:
    """Paths Search called on Reservations, in order."""

    paths: list[str] = field(default_factory=list)

    async def record(self, request: httpx.Request) -> None:
        """An httpx request hook."""
        self.paths.append(request.url.path)


@dataclass
class SearchStack:
    """A Search app and the Reservations app behind it."""

    client: httpx.AsyncClient
    reservations: AsyncEngine
    calls: CallLog
    app: Starlette


@contextlib.asynccontextmanager
async def seeded_search(var_dir, search_url, reservations_url) -> AsyncIterator[SearchStack]:
    engine = create_engine(search_url)
    await migrate(engine, "services.search.migrations")
    await seed_catalogue(engine, TEST_MIN_POPULATION)
    await engine.dispose()
    engine = create_engine(reservations_url)
    await migrate(engine, "services.reservations.migrations")
    await seed_inventory(engine, TEST_MIN_POPULATION)
    await engine.dispose()
    settings = settings_for(
        var_dir,
        {"SEARCH_DATABASE_URL": search_url, "RESERVATIONS_DATABASE_URL": reservations_url},
    )
    issuer = TestIssuer()
    reservations = create_reservations_app(settings)
    issuer.install(reservations)
    calls = CallLog()
    async with running_app(reservations):
        http = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=reservations),
            event_hooks={"request": [calls.record]},
        )
        clients = ServiceConnections(settings, tokens=token_source(issuer, "search"), http=http)
        search_app = create_app(settings, clients)
        async with running_app(search_app) as client:
            yield SearchStack(client, reservations.state.engine, calls, search_app)
        await http.aclose()


@pytest.fixture(
    scope="session", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
async def search_stack(request, tmp_path_factory) -> AsyncIterator[SearchStack]:
    """Search over a seeded catalogue, and Reservations over its seeded inventory."""
    var_dir = tmp_path_factory.mktemp("search")
    if request.param == "sqlite":
        async with seeded_search(
            var_dir,
            f"sqlite+aiosqlite:///{var_dir}/search.db",
            f"sqlite+aiosqlite:///{var_dir}/reservations.db",
        ) as stack:
            yield stack
        return
    async with (
        fresh_postgres_database() as search_url,
        fresh_postgres_database() as stock_url,
        seeded_search(var_dir, search_url, stock_url) as stack,
    ):
        yield stack


@pytest.fixture
def search(search_stack: SearchStack) -> httpx.AsyncClient:
    """An in-process client of the seeded Search app."""
    return search_stack.client
