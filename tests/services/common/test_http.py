"""The service-to-service client: cached tokens, one retry on 401, problems as errors."""

import httpx
import pytest
from starlette.requests import Request
from starlette.responses import JSONResponse

from services.common.app import create_service_app
from services.common.auth import principal
from services.common.http import ServiceClient, ServiceError
from services.common.openapi import Endpoint
from services.common.problems import Problem
from tests.support.harness import settings_for
from tests.support.tokens import TestIssuer


async def whoami(request: Request) -> JSONResponse:
    return JSONResponse({"client": principal(request).client_id})


async def wrong_password(request: Request) -> JSONResponse:
    raise Problem(401, "invalid-credentials", "The e-mail or the password is wrong.")


async def refuse(request: Request) -> JSONResponse:
    raise Problem(402, "card-declined", "The card was declined.", field="card_token")


@pytest.fixture
def app_and_issuer(tmp_path):
    app = create_service_app(
        "payments",
        settings_for(tmp_path),
        [
            Endpoint("GET", "/whoami", whoami, "who", scope="payments:read"),
            Endpoint("POST", "/refuse", refuse, "refuse", scope="payments:read"),
            Endpoint("POST", "/check", wrong_password, "check", scope="payments:read"),
        ],
        title="t",
    )
    issuer = TestIssuer()
    issuer.install(app)
    return app, issuer


def _client(app, source):
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app))
    return ServiceClient("payments", "http://payments", source, http)


async def test_token_is_fetched_once_and_reused(app_and_issuer):
    app, issuer = app_and_issuer
    calls = []

    async def source(aud, scopes):
        calls.append((aud, scopes))
        return issuer.service_token("worker", scopes, "payments"), 300.0

    client = _client(app, source)
    for _ in range(3):
        response = await client.request("GET", "/whoami", scopes="payments:read")
        assert response.json() == {"client": "worker"}
    assert calls == [("urn:staysaga:payments", "payments:read")]


async def test_a_401_drops_the_token_and_retries_once(app_and_issuer):
    app, issuer = app_and_issuer
    stale = TestIssuer()  # signs with a key the service does not trust: 401
    sources = iter([stale, issuer])

    async def source(aud, scopes):
        return next(sources).service_token("worker", scopes, "payments"), 300.0

    response = await _client(app, source).request("GET", "/whoami", scopes="payments:read")
    assert response.status_code == 200


async def test_a_problem_becomes_a_service_error_with_its_type(app_and_issuer):
    app, issuer = app_and_issuer

    async def source(aud, scopes):
        return issuer.service_token("worker", scopes, "payments"), 300.0

    with pytest.raises(ServiceError) as caught:
        await _client(app, source).request("POST", "/refuse", scopes="payments:read")
    assert caught.value.status == 402
    assert caught.value.type == "card-declined"
    assert not caught.value.retryable


async def test_a_401_without_a_bearer_challenge_is_not_retried(app_and_issuer):
    app, issuer = app_and_issuer
    calls = []

    async def source(aud, scopes):
        calls.append(aud)
        return issuer.service_token("auth", scopes, "payments"), 300.0

    client = _client(app, source)
    with pytest.raises(ServiceError) as caught:
        await client.request("POST", "/check", scopes="payments:read")
    assert caught.value.status == 401 and caught.value.type == "invalid-credentials"
    assert len(calls) == 1
