"""The website's rate limits: how often an address, a session or an account may sign up,
ask for a password reset, start a sign-in, hold a room, pay or open a progress stream.

Each rule counts requests in a moving window (the `limits` library), per address, per
session and per signed-in account. Counts live in memory, or in Redis shared by every
copy of the website (`WEB_RATE_LIMIT_STORAGE=redis://...`). A request over a limit gets a
429 with `Retry-After`: a page for people, a problem document on `/api/`.

Progress streams are also capped by how many a session holds open at once
(`WEB_MAX_OPEN_STREAMS`, `web/streams.py`): per copy in memory, over every copy in Redis.

In memory, a count is forgotten once its window has passed and at most `max_keys` counts
are kept (the least recently hit goes first), so a flood of addresses costs bounded memory.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from services.common.problems import Problem
from services.common.ratelimit import RecentKeys, seconds_to_wait
from web.pages.common import error_page
from web.streams import MemoryStreamSlots, StreamSlots

NAMESPACE = "staysaga-web"
DEFAULT_MAX_OPEN_STREAMS = 4
DEFAULT_MAX_KEYS = 100_000
# How soon a stream already refused for holding too many open may try again.
STREAM_RETRY_SECONDS = 5


@dataclass(frozen=True)
class Rule:
    """A limit on one kind of request: at most so many per address, session, account."""

    name: str
    method: str
    path: str
    per_address: str | None = None
    per_session: str | None = None
    per_account: str | None = None
    pattern: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "pattern", re.compile(self.path))

    def matches(self, method: str, path: str) -> bool:
        """Whether the rule counts this request."""
        return method == self.method and self.pattern.fullmatch(path) is not None

    def limits(self, scale: float = 1.0) -> list[tuple[str, RateLimitItem]]:
        """(what it counts by, its limit) for each limit the rule sets."""
        found = []
        for by, text in (
            ("address", self.per_address),
            ("session", self.per_session),
            ("account", self.per_account),
        ):
            if text is not None:
                item = parse(text)
                if scale != 1.0:
                    amount = max(1, round(item.amount * scale))
                    item = type(item)(amount, item.multiples, item.namespace)
                found.append((by, item))
        return found


RULES = (
    Rule("sign-up", "POST", "/signup", per_address="10/hour", per_session="5/hour"),
    Rule(
        "password-reset",
        "POST",
        "/account/forgot-password",
        per_address="10/hour",
        per_session="5/hour",
    ),
    Rule("new-password", "POST", "/account/reset-password", per_address="20/hour"),
    Rule("sign-in", "GET", "/auth/login", per_address="60/10 minutes", per_session="20/10 minutes"),
    Rule("hold", "POST", "/book", per_address="60/hour", per_account="20/hour"),
    # Card testing: someone holding a room must not try card after card until it expires.
    Rule(
        "payment",
        "POST",
        "/bookings/[^/]+/checkout",
        per_address="30/10 minutes",
        per_session="5/10 minutes",
        per_account="5/10 minutes",
    ),
    Rule(
        "progress-stream",
        "GET",
        "/bookings/[^/]+/events",
        per_address="300/10 minutes",
        per_session="60/10 minutes",
    ),
    Rule("city-suggestions", "GET", "/api/cities", per_address="600/minute"),
)


class RateLimiter:
    """Counts requests against the rules; says how long one over a limit must wait."""

    def __init__(
        self,
        storage: Storage | None = None,
        rules: tuple[Rule, ...] = RULES,
        scale: float = 1.0,
        streams: StreamSlots | None = None,
        max_keys: int = DEFAULT_MAX_KEYS,
    ) -> None:
        storage = storage if storage is not None else MemoryStorage()
        self.limiter = MovingWindowRateLimiter(storage)
        self.rules = rules
        # Every limit times this (WEB_RATE_LIMIT_SCALE): more generous behind a shared
        # address (an office, a test run), stricter under attack.
        self.scale = scale
        self.streams = (
            streams if streams is not None else MemoryStreamSlots(DEFAULT_MAX_OPEN_STREAMS)
        )
        # Only memory needs the cap: Redis expires keys by itself and is shared.
        self.counted: RecentKeys[tuple[Rule, str, str]] | None = (
            RecentKeys(max_keys) if isinstance(storage, MemoryStorage) else None
        )
        # Each rule's limits, parsed and scaled once rather than on every request.
        self._limits: dict[Rule, list[tuple[str, RateLimitItem]]] = {}

    def limits_of(self, rule: Rule) -> list[tuple[str, RateLimitItem]]:
        """The rule's limits at this limiter's scale."""
        found = self._limits.get(rule)
        if found is None:
            found = self._limits[rule] = rule.limits(self.scale)
        return found

    async def hit(self, rule: Rule, keys: dict[str, str | None]) -> int | None:
        """Count the request; the seconds to wait if it is over a limit (then not counted)."""
        waits = []
        checks = [(by, item, keys.get(by)) for by, item in self.limits_of(rule)]
        for by, item, key in checks:
            if key is not None:
                wait = await seconds_to_wait(self.limiter, item, NAMESPACE, rule.name, by, key)
                if wait is not None:
                    waits.append(wait)
        if waits:
            return max(waits)
        for by, item, key in checks:
            if key is not None:
                await self.limiter.hit(item, NAMESPACE, rule.name, by, key)
                await self._remember(rule, by, key, item.get_expiry())
        return None

    async def _remember(self, rule: Rule, by: str, key: str, window: int) -> None:
        if self.counted is None:
            return
        for gone_rule, gone_by, gone_key in self.counted.hit((rule, by, key), window):
            for counted_by, item in self.limits_of(gone_rule):
                if counted_by == gone_by:
                    await self.limiter.clear(item, NAMESPACE, gone_rule.name, gone_by, gone_key)

    @property
    def keys(self) -> int:
        """How many counts this copy keeps (memory only)."""
        return len(self.counted) if self.counted is not None else 0


def _keys(request: Request) -> dict[str, str | None]:
    session = request.scope.get("session")
    user = (session.get("user") if session is not None else None) or {}
    return {
        "address": request.client.host if request.client else None,
        "session": getattr(session, "sid", None),
        "account": user.get("user_id"),
    }


def _too_many(request: Request, wait: int) -> Response:
    headers = {"Retry-After": str(wait)}
    if request.url.path.startswith("/api/"):
        detail = f"Try again in {wait} s."
        return Problem(
            429, "too-many-requests", "Too many requests", detail, headers=headers
        ).response(request.url.path)
    minutes = max(1, math.ceil(wait / 60))
    response = error_page(
        request,
        429,
        "Too many tries for now",
        f"Please wait {minutes} minute{'s' if minutes > 1 else ''} and try again.",
    )
    response.headers.update(headers)
    return response


class RateLimitMiddleware:
    """Applies the rules to each request, after the session is loaded."""

    def __init__(self, app: ASGIApp, limiter: RateLimiter) -> None:
        self.app = app
        self.limiter = limiter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        rule = next(
            (r for r in self.limiter.rules if r.matches(request.method, request.url.path)), None
        )
        if rule is None:
            await self.app(scope, receive, send)
            return
        keys = _keys(request)
        wait = await self.limiter.hit(rule, keys)
        session = keys["session"] if rule.name == "progress-stream" else None
        slot = None
        if wait is None and session:
            slot = await self.limiter.streams.take(session)
            if slot is None:
                wait = STREAM_RETRY_SECONDS
        if wait is not None:
            response = _too_many(request, wait)
            await response(scope, receive, send)
            return
        if session is None or slot is None:
            await self.app(scope, receive, send)
            return
        try:
            await self.app(scope, receive, send)
        finally:
            await self.limiter.streams.give_back(session, slot)
