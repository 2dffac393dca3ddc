"""Deadlines travel with calls: a request that arrives after its caller gave up is refused
before anything happens, and the services it calls learn the same deadline."""

import asyncio
import time
from datetime import timedelta

import pytest
from starlette.requests import Request
from starlette.responses import JSONResponse

from activities import calls
from services.common.app import create_service_app
from services.common.deadlines import DEADLINE_HEADER, deadline_var
from services.common.http import Reply, ServiceConnection, TransportError
from services.common.openapi import Endpoint
from tests.support.harness import activity_environment, problem_field, running_app, settings_for

served: list[float | None] = []


async def work(request: Request) -> JSONResponse:
    served.append(deadline_var.get())
    return JSONResponse({"done": True})


@pytest.fixture
async def service(tmp_path):
    served.clear()
    app = create_service_app(
        "search", settings_for(tmp_path), [Endpoint("POST", "/work", work, "work")], title="t"
    )
    async with running_app(app) as client:
        yield client


async def test_a_request_past_its_deadline_is_504_and_does_nothing(service):
    late = await service.post("/work", headers={DEADLINE_HEADER: f"{time.time() - 5:.3f}"})
    assert late.status_code == 504
    assert late.json()["type"].endswith("/deadline-exceeded")
    assert problem_field(late) == DEADLINE_HEADER
    assert served == []


async def test_a_request_in_time_is_served_with_its_deadline_in_context(service):
    deadline = round(time.time() + 30, 3)
    response = await service.post("/work", headers={DEADLINE_HEADER: f"{deadline:.3f}"})
    assert response.status_code == 200
    assert served == [deadline]
    assert (await service.post("/work")).status_code == 200
    assert served == [deadline, None]


@pytest.mark.parametrize("raw", ["soon", "nan", "inf", "-1", ""])
async def test_a_deadline_that_is_not_a_time_is_400_naming_the_header(service, raw):
    response = await service.post("/work", headers={DEADLINE_HEADER: raw})
    assert response.status_code == 400
    assert problem_field(response) == DEADLINE_HEADER
    assert served == []


class _Recorder:
    """A transport that records what it was asked and answers 200, or waits first."""

    def __init__(self, wait: float = 0.0) -> None:
        self.wait = wait
        self.seen: list[tuple[dict, float | None]] = []

    async def send(self, method, url, *, headers, body=None, params=None, timeout=None):
        self.seen.append((dict(headers), timeout))
        await asyncio.sleep(self.wait)
        return Reply(200, {}, b"{}")

    async def aclose(self):
        pass


async def _no_token(aud, scopes):
    return "t", 300.0


async def test_the_client_sends_the_deadline_in_context_and_waits_no_longer():
    transport = _Recorder()
    client = ServiceConnection("search", "http://search", _no_token, transport)
    await client.request("GET", "/x", scopes=None)
    token = deadline_var.set(time.time() + 10)
    try:
        await client.request("GET", "/x", scopes=None)
        deadline_var.set(time.time() - 1)
        with pytest.raises(TransportError, match="deadline"):
            await client.request("GET", "/x", scopes=None)
    finally:
        deadline_var.reset(token)
    (plain, no_limit), (timed, limit) = transport.seen
    assert DEADLINE_HEADER not in plain and no_limit is None
    assert float(timed[DEADLINE_HEADER]) > time.time() and 9 < limit <= 10


async def test_an_activity_sends_its_steps_deadline_and_heartbeats_while_it_waits(monkeypatch):
    monkeypatch.setattr(calls, "HEARTBEAT_EVERY_SECONDS", 0.05)
    transport = _Recorder(wait=0.3)
    client = ServiceConnection("search", "http://search", _no_token, transport)
    env = activity_environment(timedelta(seconds=20), schedule_to_close=timedelta(seconds=8))
    beats = []
    env.on_heartbeat = lambda *details: beats.append(details)
    await env.run(calls.run, client.request("GET", "/x", scopes=None), "search")
    [(headers, _)] = transport.seen
    # The step's budget (8 s) ends before the attempt's (20 s): that is the deadline.
    left = float(headers[DEADLINE_HEADER]) - time.time()
    assert 6 < left <= 8
    assert len(beats) >= 3


async def test_the_services_own_calls_carry_the_deadline_of_the_request(tmp_path):
    transport = _Recorder()
    downstream = ServiceConnection("reservations", "http://r", _no_token, transport)

    async def relay(request: Request) -> JSONResponse:
        await downstream.request("GET", "/y", scopes=None)
        return JSONResponse({})

    app = create_service_app(
        "search", settings_for(tmp_path), [Endpoint("GET", "/relay", relay, "relay")], title="t"
    )
    deadline = f"{time.time() + 30:.3f}"
    async with running_app(app) as client:
        await client.get("/relay", headers={DEADLINE_HEADER: deadline})
    [(headers, _)] = transport.seen
    assert headers[DEADLINE_HEADER] == deadline
