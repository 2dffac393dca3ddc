"""Traces for tests: an OTLP/HTTP receiver a stack exports to, and tracing in this process
into memory; both give spans as `Span`s, whose ancestry a test can walk."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from services.common import tracing

TRACES_PATH = "/v1/traces"


@dataclass(frozen=True)
class Span:
    """One finished span: ids in hex, its service's name, its attributes."""

    trace_id: str
    span_id: str
    parent_id: str | None
    name: str
    service: str
    attributes: dict[str, Any] = field(default_factory=dict)


class Trace:
    """The spans of one trace, by id."""

    def __init__(self, spans: Iterable[Span]) -> None:
        self.spans = {s.span_id: s for s in spans}

    def ancestors(self, span: Span) -> list[Span]:
        """The span's parent, its parent's parent, ... up to the root, or to a parent this
        trace does not have (the caller's, outside)."""
        found: list[Span] = []
        while span.parent_id is not None and span.parent_id in self.spans:
            span = self.spans[span.parent_id]
            found.append(span)
        return found

    def named(self, service: str | None, prefix: str = "") -> list[Span]:
        """The spans of a service (any if None) whose name starts with `prefix`."""
        return [
            s
            for s in self.spans.values()
            if service in (None, s.service) and s.name.startswith(prefix)
        ]


def _value(any_value: Any) -> Any:
    kind = any_value.WhichOneof("value")
    return getattr(any_value, kind) if kind else None


class OtlpReceiver:
    """An OTLP/HTTP trace receiver on 127.0.0.1 (protobuf bodies), keeping every span."""

    def __init__(self) -> None:
        self.spans: list[Span] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (the http.server API)
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if self.path != TRACES_PATH:
                    self.send_response(404)
                    self.end_headers()
                    return
                receiver._take(body)
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def endpoint(self) -> str:
        """The base URL for OTEL_EXPORTER_OTLP_ENDPOINT."""
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def _take(self, body: bytes) -> None:
        from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
            ExportTraceServiceRequest,
        )

        request = ExportTraceServiceRequest.FromString(body)
        found = []
        for resource_spans in request.resource_spans:
            resource = {a.key: _value(a.value) for a in resource_spans.resource.attributes}
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    found.append(
                        Span(
                            trace_id=span.trace_id.hex(),
                            span_id=span.span_id.hex(),
                            parent_id=span.parent_span_id.hex() or None,
                            name=span.name,
                            service=str(resource.get("service.name", "")),
                            attributes={a.key: _value(a.value) for a in span.attributes},
                        )
                    )
        with self._lock:
            self.spans.extend(found)

    def trace(self, trace_id: str) -> Trace:
        """The spans received so far of one trace."""
        with self._lock:
            return Trace(s for s in self.spans if s.trace_id == trace_id)

    def __enter__(self) -> OtlpReceiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


class MemorySpans:
    """The spans this process finished, as `Span`s (flushed on each read)."""

    def __init__(self, exporter: Any) -> None:
        self.exporter = exporter

    def all(self) -> list[Span]:
        """Every span finished so far."""
        tracing.flush_tracing()
        found = []
        for span in self.exporter.get_finished_spans():
            parent = span.parent.span_id if span.parent is not None else None
            found.append(
                Span(
                    trace_id=f"{span.context.trace_id:032x}",
                    span_id=f"{span.context.span_id:016x}",
                    parent_id=f"{parent:016x}" if parent is not None else None,
                    name=span.name,
                    service=str(span.resource.attributes.get("service.name", "")),
                    attributes=dict(span.attributes or {}),
                )
            )
        return found

    def trace(self, trace_id: str) -> Trace:
        """The spans finished so far of one trace."""
        return Trace(s for s in self.all() if s.trace_id == trace_id)


@contextlib.contextmanager
def traced_in_memory(component: str = "test") -> Iterator[MemorySpans]:
    """Tracing on in this process, into memory, until the block ends."""
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    assert tracing.configure_tracing(component, {}, exporter=exporter)
    try:
        yield MemorySpans(exporter)
    finally:
        tracing.shutdown_tracing()
