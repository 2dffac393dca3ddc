"""A PDF service app on a fresh database (SQLite, and PostgreSQL when configured)."""

from collections.abc import AsyncIterator

import httpx
import pytest

from services.pdf.app import create_app
from tests.support.harness import running_app, settings_for
from tests.support.tokens import TestIssuer


@pytest.fixture
def issuer() -> TestIssuer:
    return TestIssuer()


@pytest.fixture
async def pdf(tmp_path, database_url, issuer) -> AsyncIterator[httpx.AsyncClient]:
    """An in-process client of a PDF app that trusts `issuer`."""
    app = create_app(settings_for(tmp_path, {"PDF_DATABASE_URL": database_url}))
    issuer.install(app)
    async with running_app(app) as client:
        yield client
