"""Tracing in a service: the caller's trace continues into the handler and its SQL, log
lines name it, and a process that does not trace never loads OpenTelemetry."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys

from sqlalchemy import text
from starlette.requests import Request
from starlette.responses import JSONResponse

from services.common import tracing
from services.common.app import create_service_app
from services.common.logging import JsonFormatter, TextFormatter
from services.common.openapi import Endpoint
from tests.support.harness import running_app, settings_for
from tests.support.tracing import traced_in_memory

CALLER_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER_SPAN = "00f067aa0ba902b7"
TRACEPARENT = f"00-{CALLER_TRACE}-{CALLER_SPAN}-01"


async def count_notes(request: Request) -> JSONResponse:
    logging.getLogger("staysaga.test").info("counting notes")
    async with request.app.state.engine.connect() as connection:
        count = (await connection.execute(text("SELECT count(*) FROM notes"))).scalar_one()
    return JSONResponse({"notes": count})


def make_app(tmp_path):
    app = create_service_app(
        "search",
        settings_for(tmp_path),
        [Endpoint("GET", "/notes/count", count_notes, "count the notes")],
        title="test",
        migrations="tests.services.common.sample_migrations_v1",
    )
    tracing.instrument_app(app)
    return app


class _Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.json: list[dict] = []
        self.text: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.json.append(json.loads(JsonFormatter("search").format(record)))
        self.text.append(TextFormatter().format(record))


async def test_a_request_continues_its_callers_trace_into_the_handler_and_its_sql(tmp_path):
    lines = _Lines()
    logger = logging.getLogger("staysaga.test")
    logger.addHandler(lines)
    logger.setLevel(logging.INFO)
    try:
        with traced_in_memory("search") as spans:
            async with running_app(make_app(tmp_path)) as client:
                answer = await client.get("/notes/count", headers={"traceparent": TRACEPARENT})
                assert answer.status_code == 200
                await client.get("/healthz", headers={"traceparent": TRACEPARENT})
            found = spans.trace(CALLER_TRACE)
    finally:
        logger.removeHandler(lines)

    (server,) = [s for s in found.named("staysaga-search") if s.name == "GET /notes/count"]
    assert server.parent_id == CALLER_SPAN
    (sql,) = [s for s in found.spans.values() if "count(*)" in str(s.attributes)]
    assert server in found.ancestors(sql)
    assert not [s for s in found.spans.values() if "healthz" in s.name]

    (logged,) = [line for line in lines.json if line["msg"] == "counting notes"]
    assert logged["trace_id"] == CALLER_TRACE
    assert logged["span_id"] in found.spans
    assert f"trace {CALLER_TRACE}" in lines.text[0]


async def test_without_tracing_requests_have_no_spans_and_logs_no_trace_id(tmp_path):
    lines = _Lines()
    logger = logging.getLogger("staysaga.test")
    logger.addHandler(lines)
    logger.setLevel(logging.INFO)
    try:
        async with running_app(make_app(tmp_path)) as client:
            answer = await client.get("/notes/count", headers={"traceparent": TRACEPARENT})
            assert answer.status_code == 200
    finally:
        logger.removeHandler(lines)
    assert not tracing.tracing_on()
    assert "trace_id" not in lines.json[0] and "trace" not in lines.text[0]


def test_tracing_is_wanted_only_with_an_endpoint_and_the_sdk_on():
    endpoint = {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}
    assert tracing.tracing_wanted(endpoint)
    assert tracing.tracing_wanted({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://c/v1/traces"})
    assert not tracing.tracing_wanted({})
    assert not tracing.tracing_wanted({**endpoint, "OTEL_SDK_DISABLED": "true"})
    assert not tracing.tracing_wanted({**endpoint, "OTEL_TRACES_EXPORTER": "none"})


# A service and a worker, built as `staysaga serve` and `staysaga worker` build them.
_LOADED = """
import json, sys
from components.settings import load_settings
from services.common import tracing
from staysaga.cli import build_parser
import services.search.app, web.app, activities.worker, workflows.worker, temporal.connect
settings = load_settings()
on = tracing.configure_tracing("search", settings.env)
app = services.search.app.create_app(settings)
tracing.instrument_app(app)
web.app.create_app(settings)
print(json.dumps({"on": on, "loaded": sorted(m for m in sys.modules if "opentelemetry" in m)}))
"""


def _loaded(env: dict[str, str]) -> dict:
    run = subprocess.run(
        [sys.executable, "-c", _LOADED],
        env={k: v for k, v in os.environ.items() if not k.startswith("OTEL_")} | env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return json.loads(run.stdout.strip().splitlines()[-1])


def test_a_process_without_an_endpoint_never_loads_opentelemetry(tmp_path):
    off = _loaded({"STAYSAGA_VAR_DIR": str(tmp_path)})
    assert off == {"on": False, "loaded": []}
    on = _loaded(
        {"STAYSAGA_VAR_DIR": str(tmp_path), "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:9"}
    )
    assert on["on"] and "opentelemetry.sdk.trace" in on["loaded"]
