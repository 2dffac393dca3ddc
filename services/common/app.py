"""The app factory every service uses: routes, errors, logging, health, its database."""

from __future__ import annotations

import contextlib
import ctypes
import dataclasses
import gc
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

import pydantic_core
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from services.common.auth import JwksCache, TokenVerifier, audience, authenticate
from services.common.db import create_engine, dispose, ping
from services.common.deadlines import DeadlineMiddleware
from services.common.logging import RequestIdMiddleware
from services.common.metrics import MetricsMiddleware, SampledGauge, ServiceMetrics, metrics_route
from services.common.migrations import migrate
from services.common.openapi import Endpoint, docs_routes
from services.common.problems import EXCEPTION_HANDLERS, Problem, RefuseNulMiddleware
from services.common.settings import Settings

log = logging.getLogger("staysaga.app")

# Net new container objects between young collections in a serving process (CPython's
# default is 700): requests in flight then die young instead of being promoted.
GC_YOUNG_THRESHOLD = 10_000

Hook = Callable[[Starlette], Awaitable[None]]


class _ModelJSONResponse(JSONResponse):
    """A JSON response serialised by pydantic's own encoder (several times the stdlib's speed)."""

    def render(self, content: Any) -> bytes:
        return bytes(content.model_dump_json().encode())


def model_response(model: BaseModel, status: int = 200) -> JSONResponse:
    """A pydantic model as a JSON response."""
    return _ModelJSONResponse(model, status_code=status)


class _DataJSONResponse(JSONResponse):
    """JSON serialised by pydantic-core's encoder: about three times the stdlib's speed."""

    def render(self, content: Any) -> bytes:
        return pydantic_core.to_json(content)


def json_response(content: Any, status: int = 200) -> JSONResponse:
    """Plain data (dicts, lists, strings, numbers) as a JSON response: for hot paths that
    build their answer without a model."""
    return _DataJSONResponse(content, status_code=status)


def health_routes() -> list[Route]:
    """/healthz answers while the process lives; /readyz only while its database answers."""

    async def healthz(_request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    async def readyz(request: Request) -> JSONResponse:
        engine: AsyncEngine | None = getattr(request.app.state, "engine", None)
        if engine is not None:
            try:
                await ping(engine)
            except Exception as exc:
                log.warning("readiness check failed: %s", exc)
                raise Problem(503, "not-ready", "The database does not answer.") from None
        return JSONResponse({"status": "ready"})

    return [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
    ]


def create_service_app(
    name: str,
    settings: Settings,
    endpoints: Sequence[Endpoint],
    *,
    title: str,
    version: str = "1.0.0",
    migrations: str | None = None,
    on_startup: Sequence[Hook] = (),
    on_shutdown: Sequence[Hook] = (),
    extra_routes: Sequence[BaseRoute] = (),
    gauges: Sequence[SampledGauge] = (),
) -> Starlette:
    """Build a service: its endpoints, /openapi.json, /docs, health, /metrics (with the
    service's own `gauges`), and its own database.

    The engine is created and migrated when the app starts (not at import) and kept in
    `app.state.engine`; `app.state.settings` holds the settings it was built with.
    """

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if migrations is not None:
            engine = create_engine(settings.database_url(name))
            app.state.engine = engine
            metrics.engine = engine
            applied = await migrate(engine, migrations)
            if applied:
                log.info("applied migrations %s", applied)
        for hook in on_startup:
            await hook(app)
        try:
            yield
        finally:
            for hook in reversed(on_shutdown):
                await hook(app)
            if migrations is not None:
                await dispose(app.state.engine)

    routes: list[Any] = [_protected(e).route() if e.scope else e.route() for e in endpoints]
    routes += docs_routes(title, version, endpoints)
    routes += health_routes()
    routes.append(metrics_route())
    routes += list(extra_routes)
    metrics = ServiceMetrics(gauges)
    app = Starlette(
        routes=routes,
        middleware=[
            # Outermost: the latency it records is the whole answer's.
            Middleware(MetricsMiddleware, metrics=metrics),
            Middleware(RequestIdMiddleware),
            Middleware(DeadlineMiddleware),
            Middleware(RefuseNulMiddleware),
        ],
        exception_handlers=EXCEPTION_HANDLERS,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.component = name
    app.state.metrics = metrics
    # The declared operations (scopes included), for docs and the bad-token matrix test.
    app.state.endpoints = tuple(endpoints)
    # Keys are fetched lazily, on the first protected request; tests swap in their own.
    app.state.token_verifier = TokenVerifier(
        settings.auth_issuer, audience(name), JwksCache.from_url(settings.auth_jwks_url)
    )
    return app


def _protected(endpoint: Endpoint) -> Endpoint:
    """The endpoint with its handler behind a token check for its scope."""
    handler = endpoint.handler
    scope = endpoint.scope
    assert scope is not None

    async def checked(request: Request) -> Any:
        await authenticate(request, scope)
        return await handler(request)

    checked.__doc__ = handler.__doc__
    return dataclasses.replace(endpoint, handler=checked)


def settle_for_serving() -> None:
    """Tune the garbage collector for a long-running server, once its code is loaded.

    The modules and the app (about 100,000 objects) are moved out of the collector's
    sight: they live as long as the process, and walking them made every full collection
    take 50-90 ms. Under load, Search spent a quarter of its time in such collections,
    each one a stall for every request in flight (`staysaga bench search`). A larger
    young generation also lets the objects of requests in flight die young, so full
    collections come less often. Reference counting still frees everything as before.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_YOUNG_THRESHOLD, *gc.get_threshold()[1:])
    return_big_blocks()


MMAP_THRESHOLD_BYTES = 1024 * 1024
_M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter


def return_big_blocks() -> None:
    """Have the C allocator give blocks of 1 MiB and more back to the system once freed.

    glibc serves such blocks with mmap and unmaps them on free, but raises that threshold
    to the size of each one freed, so the next blocks of that size come from its heaps and
    stay there: Users' password hashes (argon2id, 19 MiB of working memory each, on worker
    threads with an arena each) left ~110 MB resident after ten concurrent sign-ups that
    nothing used again. A fixed threshold keeps the mmap path. Elsewhere (another C
    library) nothing is changed.
    """
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None).mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES)
