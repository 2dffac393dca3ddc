"""A service's metrics in Prometheus's text format, on /metrics (prometheus_client).

Every app gets its own registry (`app.state.metrics`), so two apps in one process (tests,
the benchmark) never share counters. Requests are labelled by the route's template
(`/bookings/{booking_id}`), never the raw path: one series per route, however many ids
travellers type; a path no route matches counts as `<unmatched>`.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    GCCollector,
    Histogram,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.common.db import as_utc
from services.common.settings import METRICS_PATH as METRICS_PATH

UNMATCHED = "<unmatched>"
# Any other method a client sends counts as OTHER: a client picks neither labels' values.
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

# Seconds: from a cached search (a millisecond) to a PDF rendered on demand (seconds).
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)


@dataclass(frozen=True)
class SampledGauge:
    """A gauge a service reads from its own state (its database) when /metrics is asked:
    e.g. the outbox's backlog. `read` gets the app and answers the current value."""

    name: str
    documentation: str
    read: Callable[[Any], Awaitable[float]]


def backlog_gauges(
    name: str, what: str, since: ColumnElement[datetime], where: ColumnElement[bool]
) -> tuple[SampledGauge, SampledGauge]:
    """Two gauges over the rows of a service's own table that wait for something: how many
    (`<name>`) and how long the oldest has waited (`<name>_oldest_age_seconds`, from the
    `since` column; 0 when none waits). `what` names the rows in their documentation."""
    query: Select[int, datetime] = select(func.count(), func.min(since)).where(where)

    async def read(app: Any) -> tuple[int, float]:
        async with app.state.engine.connect() as connection:
            count, oldest = (await connection.execute(query)).one()
        if oldest is None:
            return int(count), 0.0
        return int(count), max(0.0, (datetime.now(UTC) - as_utc(oldest)).total_seconds())

    async def count(app: Any) -> float:
        return float((await read(app))[0])

    async def age(app: Any) -> float:
        return (await read(app))[1]

    return (
        SampledGauge(name, f"{what} now", count),
        SampledGauge(f"{name}_oldest_age_seconds", f"Age of the oldest of the {what}", age),
    )


class ServiceMetrics:
    """The metrics of one app: requests by route, their latency, errors, its database pool,
    and the gauges the service samples itself."""

    def __init__(self, sampled: Sequence[SampledGauge] = ()) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        # The process's CPU, memory, open files and garbage collections, as every
        # Prometheus client library reports them.
        ProcessCollector(registry=self.registry)
        GCCollector(registry=self.registry)
        self.requests = Counter(
            "staysaga_http_requests",
            "HTTP requests answered, by method, route template and status code",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "staysaga_http_request_duration_seconds",
            "Time to answer an HTTP request, by method and route template",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.errors = Counter(
            "staysaga_http_request_errors",
            "Requests that ended in an unhandled exception (answered 500), by route template",
            ["method", "route"],
            registry=self.registry,
        )
        self.engine: AsyncEngine | None = None
        self.registry.register(_PoolCollector(self))
        self._sampled = [
            (s, Gauge(s.name, s.documentation, registry=self.registry)) for s in sampled
        ]

    async def exposition(self, app: Any) -> bytes:
        """The registry in the text format, with the sampled gauges read now."""
        for sampled, gauge in self._sampled:
            gauge.set(await sampled.read(app))
        return generate_latest(self.registry)


class _PoolCollector(Collector):
    """The database connection pool's occupancy, read at each scrape."""

    def __init__(self, metrics: ServiceMetrics) -> None:
        self._metrics = metrics

    def collect(self) -> Iterator[GaugeMetricFamily]:
        engine = self._metrics.engine
        if engine is None:
            return
        pool = engine.sync_engine.pool
        # SQLite's pools (one connection a thread, or none kept) have no size to report.
        for name, doc, attribute in (
            ("staysaga_db_pool_size", "Connections the pool keeps open", "size"),
            ("staysaga_db_pool_checked_out", "Connections lent to requests now", "checkedout"),
            ("staysaga_db_pool_overflow", "Connections opened beyond the pool's size", "overflow"),
        ):
            read = getattr(pool, attribute, None)
            if callable(read):
                yield GaugeMetricFamily(name, doc, value=float(read()))


def route_template(scope: Scope) -> str:
    """The template of the route that answered (Starlette records it in the scope)."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) and path else UNMATCHED


class MetricsMiddleware:
    """Counts and times every HTTP request by method, route template and status."""

    def __init__(self, app: ASGIApp, metrics: ServiceMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_recording(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        method = scope["method"] if scope["method"] in METHODS else "OTHER"
        try:
            await self.app(scope, receive, send_recording)
        except BaseException:
            self.metrics.errors.labels(method, route_template(scope)).inc()
            status = 500
            raise
        finally:
            route = route_template(scope)
            self.metrics.requests.labels(method, route, str(status)).inc()
            self.metrics.latency.labels(method, route).observe(time.perf_counter() - started)


def metrics_route() -> Route:
    """GET /metrics: the app's metrics for Prometheus to scrape."""

    async def metrics(request: Request) -> Response:
        found: ServiceMetrics = request.app.state.metrics
        return Response(await found.exposition(request.app), media_type=CONTENT_TYPE_LATEST)

    return Route(METRICS_PATH, metrics, methods=["GET"], include_in_schema=False)
