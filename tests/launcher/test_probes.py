"""The launcher's probes: a GET on a fresh connection, passing on 200 only."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from staysaga.children import Prober, StackError, http_probe
from tests.support.harness import free_port


async def _serve(answer: bytes, requests: list[bytes]) -> AsyncIterator[str]:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        requests.append(await reader.readuntil(b"\r\n\r\n"))
        writer.write(answer)
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        yield f"http://127.0.0.1:{port}"


@pytest.fixture
async def ok() -> AsyncIterator[tuple[str, list[bytes]]]:
    requests: list[bytes] = []
    async for url in _serve(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", requests):
        yield url, requests


async def test_a_probe_passes_on_200_and_asks_for_the_path_on_a_closed_connection(ok):
    url, requests = ok
    await http_probe(url + "/readyz?deep=1")()
    (request,) = requests
    lines = request.decode().split("\r\n")
    assert lines[0] == "GET /readyz?deep=1 HTTP/1.1"
    assert "Connection: close" in lines and f"Host: {url.removeprefix('http://')}" in lines


async def test_a_probe_fails_on_any_other_status_or_on_no_http():
    for answer, why in [
        (b"HTTP/1.1 503 Service Unavailable\r\n\r\n", "answered 503"),
        (b"SSH-2.0-OpenSSH\r\n", "did not answer in HTTP"),
        (b"", "did not answer in HTTP"),
    ]:
        async for url in _serve(answer, []):
            with pytest.raises(StackError, match=why):
                await http_probe(url + "/healthz")()


async def test_a_probe_of_nothing_listening_or_of_a_silent_server_fails():
    with pytest.raises(OSError):
        await http_probe(f"http://127.0.0.1:{free_port()}/healthz")()

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        with pytest.raises(TimeoutError):
            await Prober(timeout=0.2).status(f"http://127.0.0.1:{port}/healthz")
    with pytest.raises(StackError, match="plain http only"):
        await Prober(timeout=0.2).status("https://127.0.0.1:1/healthz")
