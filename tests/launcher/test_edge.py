"""The scaled stack's edge: Debian's nginx on the configuration `up --scaled` writes, in
front of stand-in copies that answer, hang (a frozen process) or are gone (a killed one)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field

import httpx
import pytest

from staysaga import edge
from tests.support.harness import free_port, settings_for

pytestmark = pytest.mark.skipif(
    edge.nginx_binary() is None and not os.environ.get("CI"),
    reason="nginx is not installed (apt-get install nginx-light; CI has it)",
)


@dataclass
class Copy:
    """A stand-in for one copy of a component: records what reaches it; answers at once,
    after `delay` seconds, or never (`hang`)."""

    port: int = field(default_factory=free_port)
    gone: bool = False
    hang: bool = False
    delay: float = 0.0
    seen: list[dict[str, object]] = field(default_factory=list)
    server: asyncio.Server | None = None

    async def start(self) -> Copy:
        if self.gone:  # a killed process: nothing listens on its port
            return self
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)
        return self

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            self.server = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = (await reader.readuntil(b"\r\n\r\n")).decode()
            line, *header_lines = head.split("\r\n")
            headers = {
                k.strip().lower(): v.strip()
                for k, _, v in (h.partition(":") for h in header_lines if h)
            }
            await reader.readexactly(int(headers.get("content-length", "0")))
            method, path, _ = line.split(" ")
            peer = writer.get_extra_info("peername")[0]
            self.seen.append({"method": method, "path": path, "headers": headers, "peer": peer})
            if self.hang:
                await asyncio.Event().wait()
            await asyncio.sleep(self.delay)
            body = json.dumps({"port": self.port, "headers": headers, "peer": peer}).encode()
            writer.write(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n"
                + f"Content-Length: {len(body)}\r\n\r\n".encode()
                + body
            )
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


@dataclass
class Edge:
    """nginx in front of the web and search stand-ins."""

    web: str
    search: str
    status: str


def _nginx(settings, web: list[Copy], search: list[Copy], trusted: str | None) -> Iterator[Edge]:
    web_port, search_port, status_port = free_port(), free_port(), free_port()
    settings = settings.with_overrides(WEB_PORT=str(web_port), SEARCH_PORT=str(search_port))
    upstreams = [
        edge.Upstream("web", web_port, [c.port for c in web]),
        edge.Upstream("search", search_port, [c.port for c in search]),
    ]
    edge.write_config(settings, upstreams, status_port, trusted)
    process = subprocess.Popen(  # noqa: S603 - nginx on the configuration just written
        edge.edge_argv(settings), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        yield Edge(
            f"http://127.0.0.1:{web_port}",
            f"http://127.0.0.1:{search_port}",
            f"http://127.0.0.1:{status_port}",
        )
    finally:
        process.terminate()
        process.wait(10)


@contextlib.asynccontextmanager
async def running_edge(
    tmp_path, web: list[Copy], search: list[Copy], trusted: str | None = None
) -> AsyncIterator[tuple[Edge, httpx.AsyncClient]]:
    for copy in [*web, *search]:
        await copy.start()
    runner = _nginx(settings_for(tmp_path), web, search, trusted)
    front = next(runner)
    async with httpx.AsyncClient(timeout=30) as http:
        deadline = time.monotonic() + 20
        while True:
            try:
                if (await http.get(front.status + edge.HEALTH_PATH)).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "nginx did not start"
            await asyncio.sleep(0.05)
        try:
            yield front, http
        finally:
            for copy in [*web, *search]:
                await copy.stop()
            with contextlib.suppress(StopIteration):
                next(runner)


@pytest.fixture
def quick(monkeypatch):
    """Timeouts short enough for a test: a read waits 1 s, a write 3 s."""
    monkeypatch.setattr(edge, "READ_TIMEOUT", "1s")
    monkeypatch.setattr(edge, "WRITE_TIMEOUT", "3s")


def _gone() -> Copy:
    """A copy whose process is gone: nothing listens on its port."""
    return Copy(gone=True)


def _served_by(copies: list[Copy], path: str) -> list[int]:
    return [c.port for c in copies for seen in c.seen if seen["path"] == path]


async def test_reads_go_to_the_copy_that_is_up_when_the_other_is_gone(tmp_path, quick):
    up = Copy()
    async with running_edge(tmp_path, [Copy()], [_gone(), up]) as (front, http):
        answers = [await http.get(f"{front.search}/hotels?n={n}") for n in range(6)]
    assert [a.status_code for a in answers] == [200] * 6
    assert {a.json()["port"] for a in answers} == {up.port}


async def test_a_read_is_sent_again_to_the_other_copy_when_one_does_not_answer(tmp_path, quick):
    frozen, up = Copy(hang=True), Copy()
    async with running_edge(tmp_path, [Copy()], [frozen, up]) as (front, http):
        answers = [await http.get(f"{front.search}/hotels?n={n}") for n in range(2)]
    assert [a.status_code for a in answers] == [200, 200]
    assert {a.json()["port"] for a in answers} == {up.port}
    assert len(frozen.seen) == 1  # then it rests: max_fails, fail_timeout


async def test_a_write_that_reached_a_copy_is_never_sent_to_the_other(tmp_path, quick):
    frozen, up = Copy(hang=True), Copy()
    async with running_edge(tmp_path, [Copy()], [frozen, up]) as (front, http):
        statuses = [
            (await http.post(f"{front.search}/holds?n={n}", json={})).status_code for n in range(2)
        ]
    # Round robin: one of the two went to the frozen copy, which took it and never
    # answered; the edge says so (504) rather than repeat a write that may have acted.
    assert sorted(statuses) == [200, 504]
    for n in range(2):
        assert len(_served_by([frozen, up], f"/holds?n={n}")) == 1


async def test_a_write_with_an_idempotency_key_is_sent_again(tmp_path, quick):
    frozen, up = Copy(hang=True), Copy()
    key = {"Idempotency-Key": "hold-1"}
    async with running_edge(tmp_path, [Copy()], [frozen, up]) as (front, http):
        answers = [
            await http.post(f"{front.search}/holds?n={n}", json={}, headers=key) for n in range(2)
        ]
    assert [a.status_code for a in answers] == [200, 200]
    assert any(len(_served_by([frozen, up], f"/holds?n={n}")) == 2 for n in range(2))


async def test_a_write_goes_to_the_other_copy_when_one_refuses_the_connection(tmp_path, quick):
    up = Copy()
    async with running_edge(tmp_path, [Copy()], [_gone(), up]) as (front, http):
        answers = [await http.post(f"{front.search}/holds?n={n}", json={}) for n in range(4)]
    # Nothing reached the copy that is gone, so sending it to the other is safe.
    assert [a.status_code for a in answers] == [200] * 4


async def test_a_progress_stream_may_be_quiet_longer_than_a_read(tmp_path, quick):
    slow = Copy(delay=1.8)
    async with running_edge(tmp_path, [slow], [Copy()]) as (front, http):
        stream = await http.get(
            f"{front.web}/bookings/b1/events", headers={"Accept": "text/event-stream"}
        )
    assert stream.status_code == 200 and len(slow.seen) == 1


async def test_the_copies_hear_the_address_the_edge_saw_never_one_a_client_claims(tmp_path):
    async with running_edge(tmp_path, [Copy()], [Copy()]) as (front, http):
        seen = (await http.get(front.web + "/", headers={"X-Forwarded-For": "203.0.113.9"})).json()
    assert seen["headers"]["x-forwarded-for"] == "127.0.0.1"
    # The one address the copies believe X-Forwarded-For from (STAYSAGA_TRUSTED_PROXIES).
    assert seen["peer"] == edge.EDGE_SOURCE


async def test_a_trusted_proxy_in_front_of_the_edge_is_believed(tmp_path):
    async with running_edge(tmp_path, [Copy()], [Copy()], trusted="127.0.0.1") as (front, http):
        seen = (await http.get(front.web + "/", headers={"X-Forwarded-For": "203.0.113.9"})).json()
    assert seen["headers"]["x-forwarded-for"] == "203.0.113.9"


async def test_public_requests_beyond_an_address_rate_are_refused_and_services_are_not_limited(
    tmp_path,
):
    async with running_edge(tmp_path, [Copy()], [Copy()]) as (front, http):
        many = edge.PUBLIC_BURST * 2
        web = await asyncio.gather(*(http.get(f"{front.web}/?n={n}") for n in range(many)))
        search = await asyncio.gather(*(http.get(f"{front.search}/?n={n}") for n in range(many)))
    assert 429 in {a.status_code for a in web}
    assert {a.status_code for a in search} == {200}


async def test_bodies_are_limited_by_what_a_component_takes(tmp_path):
    form = b"x" * 100_000  # beyond a form, well within a service's JSON
    async with running_edge(tmp_path, [Copy()], [Copy()]) as (front, http):
        web = await http.post(front.web + "/signup", content=form)
        search = await http.post(front.search + "/holds", content=form)
        metrics = await http.get(front.search + "/metrics")
    assert web.status_code == 413 and search.status_code == 200
    assert metrics.status_code == 404
