"""Distributed traces with OpenTelemetry, exported over OTLP/HTTP when a collector is named.

One trace follows a booking from the website's request through the Temporal workflow and
each activity (temporalio's TracingInterceptor carries the context in Temporal headers)
to the service's handler (the Starlette/ASGI middleware) and its SQL (the SQLAlchemy
instrumentation); service-to-service calls (aiohttp) and the website's (httpx) carry it
in `traceparent` headers.

Tracing is on in a process when `OTEL_EXPORTER_OTLP_ENDPOINT` (or
`OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) is set and the SDK is not disabled
(`OTEL_SDK_DISABLED`, `OTEL_TRACES_EXPORTER=none`); the SDK reads every other standard
`OTEL_*` variable itself. When it is off, nothing of OpenTelemetry is imported: every
function here answers at once, and a process pays no memory nor time for it.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from opentelemetry.sdk.trace.export import SpanExporter
    from sqlalchemy.engine import Engine
    from starlette.applications import Starlette

log = logging.getLogger("staysaga.tracing")

ENDPOINT_VARIABLES = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
SERVICE_NAMESPACE = "staysaga"
# Probes and scrapes every few seconds would bury the requests that matter.
UNTRACED_PATHS = "healthz,readyz,metrics"
TRACER_NAME = "staysaga"

# Set by `configure_tracing` once the SDK is in place; None while tracing is off.
_state: _Tracing | None = None


class _Tracing:
    """What a process with tracing on keeps: its tracer and how to read the current ids."""

    def __init__(self, provider: Any, current_ids: Callable[[], tuple[str, str] | None]) -> None:
        self.provider = provider
        self.tracer = provider.get_tracer(TRACER_NAME)
        self.current_ids = current_ids


def tracing_wanted(env: Mapping[str, str] | None = None) -> bool:
    """Whether the environment asks for traces: an OTLP endpoint set, the SDK not disabled."""
    env = os.environ if env is None else env
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    if env.get("OTEL_TRACES_EXPORTER", "").strip().lower() == "none":
        return False
    return any(env.get(name, "").strip() for name in ENDPOINT_VARIABLES)


def tracing_on() -> bool:
    """Whether this process records and exports spans."""
    return _state is not None


def service_name(component: str) -> str:
    """The name a component's spans carry (`service.name`), unless OTEL_SERVICE_NAME says."""
    return f"{SERVICE_NAMESPACE}-{component}"


def configure_tracing(
    component: str,
    env: Mapping[str, str] | None = None,
    exporter: SpanExporter | None = None,
) -> bool:
    """Start tracing in this process if the environment asks for it (or `exporter` is
    given, for tests): a tracer provider exporting in batches over OTLP/HTTP, named after
    the component, and the aiohttp and httpx clients instrumented. Returns whether it is
    on. Call it once, before the process builds its apps, engines and Temporal client."""
    global _state
    env = os.environ if env is None else env
    if _state is not None:
        return True
    if exporter is None and not tracing_wanted(env):
        return False
    # Read by the Starlette instrumentation when it is imported: the operator's own
    # list wins.
    os.environ.setdefault("OTEL_PYTHON_STARLETTE_EXCLUDED_URLS", UNTRACED_PATHS)

    from opentelemetry import trace
    from opentelemetry.instrumentation.aiohttp_client import AioHttpClientInstrumentor
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    attributes: dict[str, str] = {"service.namespace": SERVICE_NAMESPACE}
    if not env.get("OTEL_SERVICE_NAME"):
        attributes["service.name"] = service_name(component)
    provider = TracerProvider(resource=Resource.create(attributes))
    if exporter is None:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        exporter = OTLPSpanExporter()
    provider.add_span_processor(BatchSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    AioHttpClientInstrumentor().instrument(tracer_provider=provider)
    HTTPXClientInstrumentor().instrument(tracer_provider=provider)

    def current_ids() -> tuple[str, str] | None:
        context = trace.get_current_span().get_span_context()
        if not context.is_valid:
            return None
        return trace.format_trace_id(context.trace_id), trace.format_span_id(context.span_id)

    _state = _Tracing(provider, current_ids)
    log.info(
        "tracing on: spans go out over OTLP as %s", provider.resource.attributes.get("service.name")
    )
    return True


def flush_tracing() -> None:
    """Send the spans still buffered now."""
    if _state is not None:
        _state.provider.force_flush()


def shutdown_tracing() -> None:
    """Send the spans still buffered and stop tracing (a process about to exit, or a test
    done with it): the clients are no longer instrumented, and nothing new is traced."""
    global _state
    if _state is None:
        return
    from opentelemetry.instrumentation.aiohttp_client import AioHttpClientInstrumentor
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor

    AioHttpClientInstrumentor().uninstrument()
    HTTPXClientInstrumentor().uninstrument()
    _state.provider.shutdown()
    _state = None


def current_trace_ids() -> tuple[str, str] | None:
    """(trace id, span id) of the span active here, in hex; None without one or tracing."""
    return None if _state is None else _state.current_ids()


def current_trace_id() -> str | None:
    """The trace id active here, in hex; None without a span or with tracing off."""
    ids = current_trace_ids()
    return ids[0] if ids else None


def instrument_app(app: Starlette) -> None:
    """Give an app's requests server spans, named by route (health, readiness and metrics
    excluded), continuing the caller's trace from its `traceparent` header."""
    if _state is None:
        return
    from opentelemetry.instrumentation.starlette import StarletteInstrumentor

    StarletteInstrumentor.instrument_app(app, tracer_provider=_state.provider)


def instrument_engine(engine: Engine) -> None:
    """Give every SQL statement on this (synchronous, or an async engine's `sync_engine`)
    engine a client span under the span active when it runs."""
    if _state is None:
        return
    from opentelemetry.instrumentation.sqlalchemy import engine as otel_engine
    from opentelemetry.metrics import get_meter

    # The connections gauge goes nowhere: /metrics already shows the pool.
    usage = get_meter(TRACER_NAME).create_up_down_counter("db.client.connections.usage")
    otel_engine.EngineTracer(_state.tracer, engine, usage)  # type: ignore[no-untyped-call]


def active_tracer() -> Any:
    """The process's tracer (for the Temporal interceptor); None with tracing off."""
    return None if _state is None else _state.tracer
