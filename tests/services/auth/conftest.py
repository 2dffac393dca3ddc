"""An auth app on each database backend, wired to a stand-in Users service in-process."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from limits import RateLimitItemPerHour, RateLimitItemPerMinute
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse

from components.registry import oauth_clients, sign_in_clients
from services.auth import oauth_clients as oauth_clients_module
from services.auth.app import create_app
from services.auth.throttle import SignInThrottle
from services.common.app import create_service_app
from services.common.auth import JwksCache, TokenVerifier, audience
from services.common.openapi import Endpoint
from services.common.problems import Problem
from services.common.settings import Settings
from tests.support.harness import running_app, settings_for

SECRETS = {
    client: f"secret-of-{client}-{secrets.token_hex(4)}"
    for client in [*oauth_clients(), *sign_in_clients()]
}
ACCOUNTS = {
    "ada@example.com": ("correct horse battery", "user-ada"),
    "grace@example.com": ("operator horse battery", "user-grace"),
}
OPERATORS = {"grace@example.com"}
# Sign-up tickets the stand-in Users made: ticket -> (code challenge, user id).
SIGNUP_TICKETS = {"ticket-of-new-account": ("", "user-new")}
CALLBACK = "http://127.0.0.1:8000/auth/callback"


def stand_in_users(settings: Settings, auth_client: dict[str, httpx.AsyncClient]) -> Starlette:
    """Users' `POST /credentials/check` contract, trusting the real auth app's keys."""

    async def check(request: Request) -> JSONResponse:
        body = await request.json()
        found = ACCOUNTS.get(body.get("email", ""))
        if found is None or found[0] != body.get("password"):
            raise Problem(401, "invalid-credentials", "Wrong e-mail or password.")
        roles = ["traveller", "operator"] if body["email"] in OPERATORS else ["traveller"]
        return JSONResponse(
            {"user_id": found[1], "name": "Ada", "email_verified": True, "roles": roles}
        )

    async def redeem(request: Request) -> JSONResponse:
        body = await request.json()
        found = SIGNUP_TICKETS.get(body.get("ticket", ""))
        if found is None or found[0] != body.get("code_challenge"):
            raise Problem(401, "invalid-credentials", "Not a valid sign-up ticket.")
        return JSONResponse(
            {"user_id": found[1], "name": "New", "email_verified": False, "roles": ["traveller"]}
        )

    app = create_service_app(
        "users",
        settings,
        [
            Endpoint("POST", "/credentials/check", check, "check", scope="users:credentials"),
            Endpoint(
                "POST", "/credentials/sign-up-tickets", redeem, "redeem", scope="users:credentials"
            ),
        ],
        title="stand-in users",
    )

    async def fetch() -> dict[str, Any]:
        return (await auth_client["client"].get("/.well-known/jwks.json")).json()

    app.state.token_verifier = TokenVerifier(
        settings.auth_issuer, audience("users"), JwksCache(fetch)
    )
    return app


@dataclass
class Auth:
    """A running auth app and what tests need to talk to it."""

    client: httpx.AsyncClient
    app: Starlette
    settings: Settings
    users_calls: list[str] = field(default_factory=list)

    def verifier(self, component: str) -> TokenVerifier:
        """How a service would check tokens from this server."""

        async def fetch() -> dict[str, Any]:
            return (await self.client.get("/.well-known/jwks.json")).json()

        return TokenVerifier(self.settings.auth_issuer, audience(component), JwksCache(fetch))

    async def client_token(
        self, client_id: str, scope: str, resource: str | None, secret: str | None = None
    ) -> httpx.Response:
        """POST /oauth2/token with client credentials."""
        form = {"grant_type": "client_credentials", "scope": scope}
        if resource:
            form["resource"] = resource
        return await self.client.post(
            "/oauth2/token", data=form, auth=(client_id, secret or SECRETS[client_id])
        )

    async def sign_in(
        self,
        email: str = "ada@example.com",
        password: str = "correct horse battery",  # noqa: S107 - a test account
        verifier: str | None = None,
        extra: dict[str, str] | None = None,
    ) -> httpx.Response:
        """Open the sign-in page as the website's redirect would, and submit the form."""
        verifier = verifier or pkce_verifier()
        params = {
            "response_type": "code",
            "client_id": "web",
            "redirect_uri": CALLBACK,
            "scope": "profile reservations:read",
            "state": "state-123",
            "code_challenge": s256(verifier),
            "code_challenge_method": "S256",
            **(extra or {}),
        }
        page = await self.client.get("/oauth2/authorize", params=params)
        assert page.status_code == 200, page.text
        fields = dict(re.findall(r'type="hidden" name="([^"]+)" value="([^"]*)"', page.text))
        fields = {k: v.replace("&amp;", "&") for k, v in fields.items()}
        return await self.client.post(
            "/oauth2/authorize", data={**fields, "email": email, "password": password}
        )

    def at(self, address: str) -> Auth:
        """The same server, reached by a browser at another address."""
        transport = httpx.ASGITransport(
            app=self.app, raise_app_exceptions=False, client=(address, 50000)
        )
        client = httpx.AsyncClient(transport=transport, base_url=self.client.base_url)
        return Auth(client, self.app, self.settings, self.users_calls)

    async def code_tokens(self, verifier: str | None = None) -> dict[str, Any]:
        """The whole PKCE flow: sign in, take the code from the redirect, exchange it."""
        verifier = verifier or pkce_verifier()
        redirect = await self.sign_in(verifier=verifier)
        assert redirect.status_code == 302, redirect.text
        code = callback_params(redirect)["code"]
        response = await self.exchange(code, verifier)
        assert response.status_code == 200, response.text
        return response.json()

    async def exchange(self, code: str, verifier: str | None) -> httpx.Response:
        """Trade a code for tokens as the website."""
        form = {"grant_type": "authorization_code", "code": code, "redirect_uri": CALLBACK}
        if verifier is not None:
            form["code_verifier"] = verifier
        return await self.client.post("/oauth2/token", data=form, auth=("web", SECRETS["web"]))

    async def refresh(self, refresh_token: str) -> httpx.Response:
        """Use a refresh token as the website."""
        return await self.client.post(
            "/oauth2/token",
            data={"grant_type": "refresh_token", "refresh_token": refresh_token},
            auth=("web", SECRETS["web"]),
        )


def pkce_verifier() -> str:
    """A fresh PKCE code verifier."""
    return secrets.token_urlsafe(48)


def s256(verifier: str) -> str:
    """Its S256 challenge."""
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def callback_params(response: httpx.Response) -> dict[str, str]:
    """The query of the redirect back to the website."""
    location = response.headers["location"]
    assert location.startswith(CALLBACK), location
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def claims_of(token: str) -> dict[str, Any]:
    """A JWT's claims, unverified (for asserting what was issued)."""
    body = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))


@pytest.fixture
def introspector(monkeypatch: pytest.MonkeyPatch) -> str:
    """A client the registry lets introspect tokens (none of the product's needs to)."""
    spec = oauth_clients_module.CLIENTS["pdf"]
    monkeypatch.setitem(oauth_clients_module.CLIENTS, "pdf", replace(spec, introspects=True))
    return "pdf"


# The app under test slows a pair down after 3 wrong passwords a minute, and an address
# after 12 an hour over every account.
THROTTLE_STEPS = (RateLimitItemPerMinute(3), RateLimitItemPerHour(6))
FAILURES_PER_ADDRESS = RateLimitItemPerHour(12)


@pytest.fixture
def throttle() -> SignInThrottle:
    """The sign-in throttle of the app under test (tighter than the product's)."""
    return SignInThrottle(steps=THROTTLE_STEPS, per_address=FAILURES_PER_ADDRESS)


@pytest.fixture
async def auth(database_url, tmp_path, throttle) -> AsyncIterator[Auth]:
    """A running auth app with every client configured, and a stand-in Users."""
    settings = settings_for(
        tmp_path,
        {"AUTH_DATABASE_URL": database_url, "AUTH_CLIENT_SECRETS": json.dumps(SECRETS)},
    )
    holder: dict[str, httpx.AsyncClient] = {}
    users = stand_in_users(settings, holder)
    users_http = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=users), base_url="http://users.test"
    )
    app = create_app(
        settings.with_overrides(USERS_URL="http://users.test"),
        users_http=users_http,
        signin_throttle=throttle,
    )
    async with running_app(app) as client:
        holder["client"] = client
        yield Auth(client, app, settings)
    await users_http.aclose()
