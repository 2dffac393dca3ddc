"""The request metrics every service records: labelled by route template, errors counted."""

import httpx
from prometheus_client.parser import text_string_to_metric_families
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from services.common.metrics import UNMATCHED, MetricsMiddleware, SampledGauge, ServiceMetrics


async def hello(request: Request) -> PlainTextResponse:
    return PlainTextResponse(f"hello {request.path_params['booking_id']}")


async def boom(request: Request) -> PlainTextResponse:
    raise RuntimeError("broken")


def app_with(metrics: ServiceMetrics) -> Starlette:
    return Starlette(
        routes=[
            Route("/bookings/{booking_id}", hello),
            Route("/boom", boom),
        ],
        middleware=[Middleware(MetricsMiddleware, metrics=metrics)],
    )


def samples(metrics: ServiceMetrics, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    exposed = metrics.registry.collect()
    found = {}
    for family in exposed:
        for sample in family.samples:
            if sample.name == name:
                found[tuple(sorted(sample.labels.items()))] = sample.value
    return found


async def get(app: Starlette, *paths: str) -> None:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        for path in paths:
            await client.get(path)


async def test_requests_are_labelled_by_route_template_not_raw_path():
    metrics = ServiceMetrics()
    await get(app_with(metrics), "/bookings/a1", "/bookings/b2", "/bookings/c3")

    counted = samples(metrics, "staysaga_http_requests_total")
    assert counted == {
        (("method", "GET"), ("route", "/bookings/{booking_id}"), ("status", "200")): 3.0
    }
    latency = samples(metrics, "staysaga_http_request_duration_seconds_count")
    assert latency == {(("method", "GET"), ("route", "/bookings/{booking_id}")): 3.0}


async def test_unknown_paths_share_one_series():
    metrics = ServiceMetrics()
    await get(app_with(metrics), "/nope/1", "/nope/2", "/other")

    counted = samples(metrics, "staysaga_http_requests_total")
    assert counted == {(("method", "GET"), ("route", UNMATCHED), ("status", "404")): 3.0}


async def test_a_made_up_method_counts_as_other():
    metrics = ServiceMetrics()
    transport = httpx.ASGITransport(app=app_with(metrics))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        for method in ("BREW", "WHEN", "GET"):
            await client.request(method, "/bookings/a")

    counted = samples(metrics, "staysaga_http_requests_total")
    assert counted == {
        (("method", "OTHER"), ("route", "/bookings/{booking_id}"), ("status", "405")): 2.0,
        (("method", "GET"), ("route", "/bookings/{booking_id}"), ("status", "200")): 1.0,
    }


async def test_an_unhandled_exception_counts_as_an_error_and_a_500():
    metrics = ServiceMetrics()
    await get(app_with(metrics), "/boom", "/bookings/x")

    assert samples(metrics, "staysaga_http_request_errors_total") == {
        (("method", "GET"), ("route", "/boom")): 1.0
    }
    counted = samples(metrics, "staysaga_http_requests_total")
    assert counted[(("method", "GET"), ("route", "/boom"), ("status", "500"))] == 1.0


async def test_sampled_gauges_are_read_at_each_exposition():
    backlog = [3.0]

    async def read(_app: object) -> float:
        return backlog[0]

    metrics = ServiceMetrics([SampledGauge("outbox_depth", "pending messages", read)])
    first = await metrics.exposition(None)
    backlog[0] = 7.0
    second = await metrics.exposition(None)

    def value(text: bytes) -> float:
        families = text_string_to_metric_families(text.decode())
        return next(f for f in families if f.name == "outbox_depth").samples[0].value

    assert (value(first), value(second)) == (3.0, 7.0)


async def test_two_apps_keep_separate_counts():
    one, two = ServiceMetrics(), ServiceMetrics()
    await get(app_with(one), "/bookings/a")
    assert samples(two, "staysaga_http_requests_total") == {}
    assert sum(samples(one, "staysaga_http_requests_total").values()) == 1.0
