"""The website's rate limits: per address, session and account; a page for people, a
problem document for APIs; progress streams capped; one count for every copy on Redis."""

from __future__ import annotations

import asyncio
import secrets
from typing import Any

import httpx
import pytest
import redis.asyncio

from services.common.ratelimit import storage_for
from tests.support.harness import eventually
from tests.web.conftest import Site
from web.ratelimits import MAX_OPEN_STREAMS, RULES, RateLimiter, RateLimitMiddleware, Rule

SIGNUP = {"email": "ada@example.com", "name": "Ada", "password": "correct horse battery"}


def tighten(site: Site, *rules: Rule) -> None:
    site.app.state.rate_limiter.rules = rules


def from_address(site: Site, address: str) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=site.app, raise_app_exceptions=False, client=(address, 1))
    return httpx.AsyncClient(transport=transport, base_url=site.client.base_url)


def test_every_abusable_step_has_a_limit():
    cases = {
        ("POST", "/signup"),
        ("POST", "/account/forgot-password"),
        ("POST", "/account/reset-password"),
        ("GET", "/auth/login"),
        ("POST", "/book"),
        ("GET", "/bookings/0123abcd/events"),
        ("GET", "/api/cities"),
    }
    for method, path in cases:
        assert any(rule.matches(method, path) for rule in RULES), (method, path)
    assert not any(rule.matches("GET", "/") or rule.matches("GET", "/search") for rule in RULES)


async def test_sign_ups_from_one_address_are_limited_with_a_page_saying_when(site: Site):
    tighten(site, Rule("sign-up", "POST", "/signup", per_address="2/hour"))
    for _ in range(2):
        token = await site.csrf("/signup")
        done = await site.client.post("/signup", data={**SIGNUP, "csrf_token": token})
        assert done.status_code == 303
    token = await site.csrf("/signup")
    refused = await site.client.post("/signup", data={**SIGNUP, "csrf_token": token})
    assert refused.status_code == 429
    assert 3000 < int(refused.headers["retry-after"]) <= 3600
    assert refused.headers["content-type"].startswith("text/html")
    assert "Please wait 60 minutes" in refused.text
    assert len(site.services.calls["users"]) == 2  # the third never reached Users

    async with from_address(site, "203.0.113.5") as elsewhere:
        token = (await elsewhere.get("/signup")).text.split('name="csrf_token" value="')[1]
        token = token.split('"')[0]
        done = await elsewhere.post("/signup", data={**SIGNUP, "csrf_token": token})
        assert done.status_code == 303


async def test_an_api_over_its_limit_answers_a_problem_document(site: Site):
    tighten(site, Rule("city-suggestions", "GET", "/api/cities", per_address="3/minute"))
    for _ in range(3):
        assert (await site.client.get("/api/cities", params={"q": "Par"})).status_code == 200
    refused = await site.client.get("/api/cities", params={"q": "Par"})
    assert refused.status_code == 429
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert refused.json()["type"].endswith("too-many-requests")
    assert int(refused.headers["retry-after"]) > 0


async def test_holds_count_per_account(site: Site):
    tighten(site, Rule("hold", "POST", "/book", per_account="1/hour"))
    await site.log_in("user-1")
    first = await site.client.post("/book", data={})
    assert first.status_code != 429
    assert (await site.client.post("/book", data={})).status_code == 429
    await site.log_in("user-2")
    assert (await site.client.post("/book", data={})).status_code != 429


def _count(middleware: RateLimitMiddleware, sid: str, expected: int):  # type: ignore[no-untyped-def]
    async def check() -> None:
        assert middleware.limiter.open_streams[sid] == expected

    return check


async def _open_stream(
    middleware: RateLimitMiddleware, sid: str, release: asyncio.Event, api: bool = False
) -> int:
    statuses: list[int] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    # The page for people needs the app's templates: a stream asked for as /api/ gets the
    # problem document instead, which needs none.
    path = "/api/bookings/b1/events" if api else "/bookings/b1/events"
    scope = {
        "type": "http",
        "method": "GET",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": [(b"accept", b"application/json")],
        "client": ("127.0.0.1", 1),
        "server": ("testserver", 80),
        "scheme": "http",
        "root_path": "",
        "session": _Session(sid),
    }
    await middleware(scope, receive, send)
    return statuses[0]


class _Session(dict[str, Any]):
    def __init__(self, sid: str) -> None:
        super().__init__()
        self.sid = sid


async def test_a_session_holds_only_a_few_progress_streams_open_at_once():
    release = asyncio.Event()

    async def stream(scope, receive, send):  # type: ignore[no-untyped-def]
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await release.wait()
        await send({"type": "http.response.body", "body": b""})

    streams = Rule(
        "progress-stream", "GET", "(?:/api)?/bookings/[^/]+/events", per_session="99/hour"
    )
    middleware = RateLimitMiddleware(stream, RateLimiter(rules=(streams,)))
    open_ones = [
        asyncio.create_task(_open_stream(middleware, "s1", release))
        for _ in range(MAX_OPEN_STREAMS)
    ]
    await eventually(_count(middleware, "s1", MAX_OPEN_STREAMS), timeout=10, interval=0.01)
    assert await _open_stream(middleware, "s1", release, api=True) == 429
    other = asyncio.create_task(_open_stream(middleware, "s2", release))
    await eventually(_count(middleware, "s2", 1), timeout=10, interval=0.01)
    release.set()
    assert await asyncio.gather(*open_ones, other) == [200] * (MAX_OPEN_STREAMS + 1)
    assert not middleware.limiter.open_streams


async def test_copies_sharing_redis_count_together():
    client = redis.asyncio.Redis.from_url("redis://127.0.0.1:6379/0")
    try:
        await client.ping()
    except (OSError, redis.RedisError):
        pytest.skip("no Redis at 127.0.0.1:6379")
    finally:
        await client.aclose()
    rule = Rule("sign-up", "POST", "/signup", per_address="3/hour")
    address = f"test-{secrets.token_hex(6)}"
    one = RateLimiter(storage_for("redis://127.0.0.1:6379/0"), (rule,))
    two = RateLimiter(storage_for("redis://127.0.0.1:6379/0"), (rule,))
    assert await one.hit(rule, {"address": address}) is None
    assert await two.hit(rule, {"address": address}) is None
    assert await one.hit(rule, {"address": address}) is None
    assert await two.hit(rule, {"address": address}) is not None


async def test_the_scale_multiplies_every_limit():
    rule = Rule("sign-up", "POST", "/signup", per_address="2/hour")
    limiter = RateLimiter(rules=(rule,), scale=2)
    keys = {"address": f"test-{secrets.token_hex(6)}"}
    assert [await limiter.hit(rule, keys) for _ in range(4)] == [None] * 4
    assert await limiter.hit(rule, keys) is not None
