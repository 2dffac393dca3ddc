"""A website app wired to an in-process, seeded Search and stand-ins for everything else."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest

from services.common.http import ServiceConnections
from tests.services.search.conftest import seeded_search
from tests.support.harness import running_app, settings_for
from tests.support.tokens import TestIssuer, token_source
from tests.web.fakes import FakeServices, FakeTemporal, RoutingTransport
from web.app import create_app
from web.backends import Backends
from web.oauth import OAuthClient

# Cities of two million people or more: Paris is in, the seed takes about a second.
TEST_MIN_POPULATION = 2_000_000


@pytest.fixture(scope="session")
async def search_app(tmp_path_factory) -> AsyncIterator[httpx.ASGITransport]:
    """A transport into a running Search app (and the Reservations behind it), seeded."""
    var_dir = tmp_path_factory.mktemp("web-search")
    async with seeded_search(
        var_dir,
        f"sqlite+aiosqlite:///{var_dir}/search.db",
        f"sqlite+aiosqlite:///{var_dir}/reservations.db",
    ) as stack:
        yield httpx.ASGITransport(app=stack.app)


@dataclass
class Site:
    """The website under test, its client, and the stand-ins it talks to."""

    client: httpx.AsyncClient
    app: object
    services: FakeServices
    temporal: FakeTemporal
    transport: RoutingTransport
    issuer: TestIssuer

    async def csrf(self, path: str = "/signup") -> str:
        """The CSRF token a form on `path` carries."""
        page = await self.client.get(path)
        found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert found, page.text
        return found.group(1)

    async def log_in(self, user_id: str = "user-1") -> None:
        """Go through login and the callback, as the auth service would send the browser."""
        self.services.next_user = user_id
        start = await self.client.get("/auth/login")
        if "state=" not in start.headers["location"]:
            # Someone is signed in already, and is not sent to sign in again: a new visitor.
            self.client.cookies.clear()
            start = await self.client.get("/auth/login")
        state = re.search(r"state=([^&]+)", start.headers["location"]).group(1)
        done = await self.client.get(f"/auth/callback?code=good&state={state}")
        assert done.status_code == 303, done.text


@pytest.fixture
async def site(search_app, tmp_path) -> AsyncIterator[Site]:
    """A website over SQLite (its session storage is tested on PostgreSQL too, apart)."""
    settings = settings_for(
        tmp_path,
        {
            "WEB_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/web.db",
            "WEB_SESSION_SECRET": "test-secret",
            "STAYSAGA_CLIENT_ID": "web",
            "STAYSAGA_CLIENT_SECRET": "web-secret",
            "BANK_PUBLISHABLE_KEY": "pk_test_web",
        },
    )
    issuer = TestIssuer()
    services = FakeServices(issuer)
    transport = RoutingTransport(
        {
            settings.url("search"): search_app,
            settings.url("auth"): services.auth,
            settings.url("reservations"): services.reservations,
            settings.url("users"): services.users,
            settings.url("bank"): services.bank,
            settings.url("pdf"): services.pdf,
        }
    )
    app = create_app(settings)
    http = httpx.AsyncClient(transport=transport)
    app.state.backends = Backends(
        settings, http, ServiceConnections(settings, tokens=token_source(issuer, "web"), http=http)
    )
    app.state.oauth = OAuthClient(settings, http)
    temporal = FakeTemporal()
    app.state.temporal = temporal
    async with running_app(app) as client:
        yield Site(client, app, services, temporal, transport, issuer)
