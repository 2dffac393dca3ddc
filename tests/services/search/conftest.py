"""A seeded Search app per database backend, shared by the read-only Search tests."""

from collections.abc import AsyncIterator

import httpx
import pytest

from services.common.db import create_engine
from services.common.migrations import migrate
from services.search.app import create_app
from services.search.seed import seed_catalogue
from tests.conftest import fresh_postgres_database
from tests.support.harness import running_app, settings_for

# Cities of two million people or more: Paris is in, the seed takes about a second.
TEST_MIN_POPULATION = 2_000_000


async def _seeded_client(var_dir, database_url) -> AsyncIterator[httpx.AsyncClient]:
    engine = create_engine(database_url)
    await migrate(engine, "services.search.migrations")
    await seed_catalogue(engine, TEST_MIN_POPULATION)
    await engine.dispose()
    settings = settings_for(var_dir, {"SEARCH_DATABASE_URL": database_url})
    async with running_app(create_app(settings)) as client:
        yield client


@pytest.fixture(
    scope="session", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
async def search(request, tmp_path_factory) -> AsyncIterator[httpx.AsyncClient]:
    """An in-process client of a Search app over a seeded catalogue."""
    var_dir = tmp_path_factory.mktemp("search")
    if request.param == "sqlite":
        async for client in _seeded_client(var_dir, f"sqlite+aiosqlite:///{var_dir}/search.db"):
            yield client
        return
    async with fresh_postgres_database() as url:
        async for client in _seeded_client(var_dir, url):
            yield client
