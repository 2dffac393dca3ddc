"""The website's rate limits: per address, session and account; a page for people, a
problem document for APIs; progress streams capped; one count for every copy on Redis."""

from __future__ import annotations

import asyncio
import secrets
import time
from typing import Any

import httpx
import time_machine

from services.common.ratelimit import storage_for
from tests.support.harness import eventually, settings_for
from tests.web.conftest import Site
from web.app import create_app
from web.ratelimits import RULES, RateLimiter, RateLimitMiddleware, Rule
from web.streams import KEY_PREFIX, MemoryStreamSlots, RedisStreamSlots, StreamSlots

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
        ("POST", "/bookings/0123abcd/checkout"),
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


def _count(slots: StreamSlots, sid: str, expected: int):  # type: ignore[no-untyped-def]
    async def check() -> None:
        assert await slots.open_count(sid) == expected

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


STREAMS = Rule("progress-stream", "GET", "(?:/api)?/bookings/[^/]+/events", per_session="99/hour")


def _held_open(release: asyncio.Event):  # type: ignore[no-untyped-def]
    async def stream(scope, receive, send):  # type: ignore[no-untyped-def]
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await release.wait()
        await send({"type": "http.response.body", "body": b""})

    return stream


async def test_a_session_holds_only_a_few_progress_streams_open_at_once():
    release = asyncio.Event()
    slots = MemoryStreamSlots(3)
    middleware = RateLimitMiddleware(
        _held_open(release), RateLimiter(rules=(STREAMS,), streams=slots)
    )
    open_ones = [asyncio.create_task(_open_stream(middleware, "s1", release)) for _ in range(3)]
    await eventually(_count(slots, "s1", 3), timeout=10, interval=0.01)
    assert await _open_stream(middleware, "s1", release, api=True) == 429
    other = asyncio.create_task(_open_stream(middleware, "s2", release))
    await eventually(_count(slots, "s2", 1), timeout=10, interval=0.01)
    release.set()
    assert await asyncio.gather(*open_ones, other) == [200] * 4
    assert not slots.open


async def test_copies_sharing_redis_hold_one_count_of_open_streams(redis_url):
    release = asyncio.Event()
    sid = f"test-{secrets.token_hex(6)}"
    one = RedisStreamSlots(redis_url, 2, life=60)
    two = RedisStreamSlots(redis_url, 2, life=60)
    copies = [
        RateLimitMiddleware(_held_open(release), RateLimiter(rules=(STREAMS,), streams=slots))
        for slots in (one, two)
    ]
    try:
        first = asyncio.create_task(_open_stream(copies[0], sid, release))
        second = asyncio.create_task(_open_stream(copies[1], sid, release))
        await eventually(_count(one, sid, 2), timeout=10, interval=0.01)
        assert await _open_stream(copies[0], sid, release, api=True) == 429
        assert await _open_stream(copies[1], sid, release, api=True) == 429
        release.set()
        assert await asyncio.gather(first, second) == [200, 200]
        assert await two.open_count(sid) == 0
    finally:
        await one.aclose()
        await two.aclose()


async def test_a_dead_copys_streams_stop_counting_after_a_streams_life(redis_url):
    sid = f"test-{secrets.token_hex(6)}"
    slots = RedisStreamSlots(redis_url, 2, life=600)
    try:
        # A copy that died while holding two streams open: they end by their scores.
        with time_machine.travel(time.time() - 601, tick=False):
            assert await slots.take(sid) is not None
            assert await slots.take(sid) is not None
            assert await slots.take(sid) is None
        assert await slots.open_count(sid) == 0
        assert await slots.take(sid) is not None
        assert 0 < await slots.client.ttl(KEY_PREFIX + sid) <= 601
    finally:
        await slots.aclose()


def test_the_open_streams_cap_is_a_setting(tmp_path):
    app = create_app(settings_for(tmp_path, {"WEB_MAX_OPEN_STREAMS": "7"}))
    assert app.state.rate_limiter.streams.max_open == 7
    default = create_app(settings_for(tmp_path))
    assert default.state.rate_limiter.streams.max_open == 4


async def test_memory_keeps_at_most_the_cap_of_counts_forgetting_the_oldest():
    rule = Rule("sign-up", "POST", "/signup", per_address="1/hour", per_session="5/hour")
    limiter = RateLimiter(rules=(rule,), max_keys=100)
    assert await limiter.hit(rule, {"address": "192.0.2.1"}) is None
    assert await limiter.hit(rule, {"address": "192.0.2.1"}) is not None
    for n in range(300):
        await limiter.hit(rule, {"address": f"10.0.{n // 256}.{n % 256}", "session": f"s{n}"})
    assert limiter.keys == 100
    assert await limiter.hit(rule, {"address": "192.0.2.1"}) is None  # forgotten first


async def test_memory_forgets_counts_once_their_window_has_passed():
    rule = Rule("sign-up", "POST", "/signup", per_address="1/minute")
    limiter = RateLimiter(rules=(rule,))
    with time_machine.travel(time.time(), tick=False) as clock:
        for n in range(50):
            await limiter.hit(rule, {"address": f"10.1.0.{n}"})
        clock.shift(61)
        await limiter.hit(rule, {"address": "192.0.2.1"})
        assert limiter.keys == 1


async def test_payment_attempts_are_limited_per_account(site: Site):
    tighten(site, Rule("payment", "POST", "/bookings/[^/]+/checkout", per_account="2/10 minutes"))
    await site.log_in("user-1")
    for _ in range(2):
        assert (await site.client.post("/bookings/b1/checkout", data={})).status_code != 429
    refused = await site.client.post("/bookings/b1/checkout", data={})
    assert refused.status_code == 429
    assert 0 < int(refused.headers["retry-after"]) <= 600
    assert refused.headers["content-type"].startswith("text/html")
    # Another booking of the same account shares the count; another account has its own.
    assert (await site.client.post("/bookings/b2/checkout", data={})).status_code == 429
    await site.log_in("user-2")
    assert (await site.client.post("/bookings/b1/checkout", data={})).status_code != 429


def test_payment_attempts_have_a_default_limit_per_account_and_address():
    rule = next(r for r in RULES if r.matches("POST", "/bookings/0123abcd/checkout"))
    limits = dict(rule.limits())
    assert limits["account"].amount == 5 and limits["account"].get_expiry() == 600
    assert "address" in limits and "session" in limits


async def test_copies_sharing_redis_count_together(redis_url):
    rule = Rule("sign-up", "POST", "/signup", per_address="3/hour")
    address = f"test-{secrets.token_hex(6)}"
    one = RateLimiter(storage_for(redis_url), (rule,))
    two = RateLimiter(storage_for(redis_url), (rule,))
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
