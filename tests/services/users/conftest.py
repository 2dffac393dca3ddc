"""A Users app wired to an in-process PDF app and a real mail sink on a free SMTP port."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette

from services.common.http import ServiceConnections
from services.pdf.app import create_app as create_pdf_app
from services.users.app import create_app as create_users_app
from tests.support.harness import free_port, running_app, settings_for
from tests.support.mailsink import Sink, running_sink
from tests.support.tokens import TestIssuer, bearer, token_source

PASSWORD = "correct horse battery"


@dataclass
class UsersWorld:
    """The Users app under test and what it talks to."""

    client: httpx.AsyncClient
    app: Starlette
    pdf: httpx.AsyncClient
    issuer: TestIssuer

    def website(self) -> dict[str, str]:
        """The website's service token for the anonymous account flows."""
        return bearer(self.issuer.service_token("web", "users:register", "users"))

    def auth_service(self) -> dict[str, str]:
        """The auth service's token for credential checks."""
        return bearer(self.issuer.service_token("auth", "users:credentials", "users"))

    def notifier(self) -> dict[str, str]:
        """The notifications worker's token."""
        return bearer(self.issuer.service_token("worker-notifications", "users:notify", "users"))

    def traveller(self, user_id: str, scopes: str = "profile") -> dict[str, str]:
        """A signed-in traveller's token."""
        return bearer(self.issuer.user_token(user_id, scopes, "users"))

    async def register(self, email: str, name: str = "Zoë Traveller") -> dict:
        """Sign up; the new account."""
        response = await self.client.post(
            "/users",
            json={"email": email, "name": name, "password": PASSWORD},
            headers=self.website(),
        )
        assert response.status_code == 201, response.text
        return response.json()


@contextlib.asynccontextmanager
async def users_world(
    var_dir: Path, database_url: str, smtp_port: int, issuer: TestIssuer
) -> AsyncIterator[UsersWorld]:
    """Users (SMTP to `smtp_port`) and PDF apps, both trusting `issuer`."""
    pdf_app = create_pdf_app(settings_for(var_dir / "pdf"))
    issuer.install(pdf_app)
    settings = settings_for(
        var_dir / "users",
        {
            "USERS_DATABASE_URL": database_url,
            "SMTP_PORT": str(smtp_port),
            "MAIL_RETRY_MAX_SECONDS": "0.2",
            "USERS_LINK_SECRET": "test-secret-not-for-production",
            "USERS_LINK_BASE_URL": "https://staysaga.test",
        },
    )
    async with running_app(pdf_app) as pdf_client:
        http = httpx.AsyncClient(transport=httpx.ASGITransport(app=pdf_app))
        clients = ServiceConnections(settings, tokens=token_source(issuer, "users"), http=http)
        app = create_users_app(settings, connections=clients)
        issuer.install(app)
        try:
            async with running_app(app) as client:
                yield UsersWorld(client, app, pdf_client, issuer)
        finally:
            await http.aclose()


@pytest.fixture
async def sink(tmp_path) -> AsyncIterator[Sink]:
    async with running_sink(tmp_path / "sink") as running:
        yield running


@pytest.fixture
async def world(tmp_path, database_url, sink) -> AsyncIterator[UsersWorld]:
    async with users_world(tmp_path, database_url, sink.smtp_port, TestIssuer()) as built:
        yield built


@pytest.fixture
def dead_port() -> int:
    return free_port()
