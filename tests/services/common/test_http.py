"""The service-to-service client: cached tokens, one retry on 401, problems as errors."""

import base64
import json
import socket
import urllib.parse

import httpx
import pytest
from starlette.requests import Request
from starlette.responses import JSONResponse

from services.common.app import create_service_app
from services.common.auth import principal
from services.common.http import (
    AiohttpTransport,
    HttpxTransport,
    ServiceConnection,
    ServiceError,
    TransportError,
    client_credentials,
)
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
    return ServiceConnection("payments", "http://payments", source, HttpxTransport(http))


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


# ---------------------------------------------------------------------------- aiohttp


def _echo_app(release):
    from starlette.applications import Starlette
    from starlette.routing import Route

    async def echo(request: Request) -> JSONResponse:
        return JSONResponse(
            {
                "method": request.method,
                "query": {k: request.query_params.getlist(k) for k in request.query_params},
                "authorization": request.headers.get("authorization"),
                "content_type": request.headers.get("content-type"),
                "body": (await request.body()).decode(),
            },
            headers={"X-Answer": "yes"},
        )

    async def slow(_request: Request) -> JSONResponse:
        await release.wait()
        return JSONResponse({})

    async def token(request: Request) -> JSONResponse:
        # The "token" is what the endpoint was sent, for the test to look at.
        seen = {
            "authorization": request.headers.get("authorization"),
            "content_type": request.headers.get("content-type"),
            "form": dict(urllib.parse.parse_qsl((await request.body()).decode())),
        }
        return JSONResponse({"access_token": json.dumps(seen), "expires_in": 600})

    return Starlette(
        routes=[
            Route("/echo", echo, methods=["GET", "POST"]),
            Route("/slow", slow),
            Route("/oauth2/token", token, methods=["POST"]),
        ]
    )


@pytest.fixture
async def echo_server():
    import asyncio

    import uvicorn

    release = asyncio.Event()
    config = uvicorn.Config(_echo_app(release), host="127.0.0.1", port=0, log_config=None)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    async with asyncio.timeout(10):
        while not server.started:  # noqa: ASYNC110 - uvicorn offers a flag, not an event
            await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}"
    release.set()
    server.should_exit = True
    await task


async def test_aiohttp_sends_json_query_and_token_and_reads_everything(echo_server):
    transport = AiohttpTransport(timeout=5)

    async def source(aud, scopes):
        return f"token-for-{scopes}", 300.0

    client = ServiceConnection("payments", echo_server, source, transport)
    try:
        response = await client.request(
            "POST",
            "/echo",
            scopes="payments:read",
            json={"a": "é"},
            params={"n": 2, "stars": [4, 5]},
        )
    finally:
        await transport.aclose()
    assert response.status_code == 200
    assert response.headers["x-answer"] == "yes"  # names in lower case
    echoed = response.json()
    assert json.loads(echoed.pop("body")) == {"a": "é"}
    assert echoed == {
        "method": "POST",
        "query": {"n": ["2"], "stars": ["4", "5"]},  # a list repeats its name
        "authorization": "Bearer token-for-payments:read",
        "content_type": "application/json",
    }


async def test_client_credentials_post_a_form_with_basic_auth(echo_server, tmp_path):
    settings = settings_for(
        tmp_path,
        {"AUTH_URL": echo_server, "STAYSAGA_CLIENT_ID": "search", "STAYSAGA_CLIENT_SECRET": "s3"},
    )
    transport = AiohttpTransport(timeout=5)
    try:
        token, lifetime = await client_credentials(settings, transport)(
            "urn:staysaga:reservations", "reservations:read"
        )
    finally:
        await transport.aclose()
    assert lifetime == 600.0
    assert json.loads(token) == {
        "authorization": "Basic " + base64.b64encode(b"search:s3").decode(),
        "content_type": "application/x-www-form-urlencoded",
        "form": {
            "grant_type": "client_credentials",
            "scope": "reservations:read",
            "resource": "urn:staysaga:reservations",
        },
    }


async def test_no_answer_is_a_transport_error(echo_server):
    refused = AiohttpTransport(timeout=5)
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    try:
        with pytest.raises(TransportError, match="ClientConnectorError"):
            await refused.send("GET", f"http://127.0.0.1:{port}/", headers={})
    finally:
        await refused.aclose()
    impatient = AiohttpTransport(timeout=0.2)
    try:
        with pytest.raises(TransportError, match="TimeoutError"):
            await impatient.send("GET", echo_server + "/slow", headers={})
    finally:
        await impatient.aclose()
