"""The search benchmark's load generator: keep-alive HTTP/1.1 connections on raw asyncio
streams (httpx costs ~10x more CPU per request and would measure itself), run in a process
of its own so that it shares an event loop with no server.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import subprocess
import sys
import time
import urllib.parse
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class LoadResult:
    """What one load run measured."""

    requests: int
    errors: int
    seconds: float
    p50_ms: float
    p95_ms: float
    p99_ms: float

    @property
    def rate(self) -> float:
        """Successful requests per second."""
        return (self.requests - self.errors) / self.seconds


class _Connection:
    """One keep-alive HTTP/1.1 connection sending GETs and reading whole answers."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port

    async def open(self) -> None:
        """Connect."""
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)

    def request(self, path: str) -> bytes:
        """The bytes of a GET of `path`."""
        return (
            f"GET {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
            "Accept: application/json\r\n\r\n"
        ).encode()

    async def send(self, request: bytes) -> int:
        """Send a request, read its whole answer, return the status code."""
        self.writer.write(request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n"):
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        await self.reader.readexactly(length)
        return int(head[9:12])

    def close(self) -> None:
        """Close the socket."""
        self.writer.close()


@dataclass
class _Window:
    """When measuring starts and sending stops, and what was measured."""

    warm_until: float
    stop_at: float
    latencies: list[float]
    errors: list[int]

    def record(self, started: float, status: int) -> None:
        """Count one answer if it was asked for after the warm-up."""
        if started >= self.warm_until:
            self.latencies.append(time.perf_counter() - started)
            if status != 200:
                self.errors.append(status)


async def _closed_loop(
    connection: _Connection, paths: Sequence[str], offset: int, window: _Window
) -> None:
    """Send the next request as soon as the previous answer is in, until the end."""
    requests = [connection.request(p) for p in paths]
    i = offset
    while (started := time.perf_counter()) < window.stop_at:
        status = await connection.send(requests[i % len(requests)])
        i += 1
        window.record(started, status)


async def _paced_sender(
    connection: _Connection, paths: Sequence[str], due: asyncio.Queue[tuple[float, int] | None],
    window: _Window,
) -> None:  # fmt: skip
    """Send requests as they fall due, timing each from when it was due, not sent."""
    while (item := await due.get()) is not None:
        due_at, i = item
        status = await connection.send(connection.request(paths[i % len(paths)]))
        window.record(due_at, status)


async def _pace(
    due: asyncio.Queue[tuple[float, int] | None], rate: float, begin: float, window: _Window,
    senders: int,
) -> None:  # fmt: skip
    """Make requests fall due at `rate` per second from `begin`, whatever the answers."""
    n = 0
    while (due_at := begin + n / rate) < window.stop_at:
        now = time.perf_counter()
        if due_at > now:
            await asyncio.sleep(due_at - now)
        due.put_nowait((due_at, n * 7919))
        n += 1
    for _ in range(senders):
        due.put_nowait(None)


async def run_load(
    url: str, paths: Sequence[str], connections: int, seconds: float, warmup: float,
    rate: float = 0.0,
) -> LoadResult:  # fmt: skip
    """Load `url` over `connections` connections: a closed loop, or paced at `rate`/s.

    Paced (open loop), a request that finds every connection busy waits for one, and its
    latency counts from when it fell due: a server that falls behind shows it in the
    percentiles instead of slowing the load down (no coordinated omission).
    """
    parsed = urllib.parse.urlsplit(url)
    host, port = parsed.hostname or "127.0.0.1", parsed.port or 80
    pool = [_Connection(host, port) for _ in range(connections)]
    await asyncio.gather(*(c.open() for c in pool))
    begin = time.perf_counter()
    window = _Window(begin + warmup, begin + warmup + seconds, [], [])
    try:
        if rate > 0:
            due: asyncio.Queue[tuple[float, int] | None] = asyncio.Queue()
            await asyncio.gather(
                _pace(due, rate, begin, window, len(pool)),
                *(_paced_sender(c, paths, due, window) for c in pool),
            )
        else:
            await asyncio.gather(
                *(_closed_loop(c, paths, i * 7919, window) for i, c in enumerate(pool))
            )
    finally:
        for c in pool:
            c.close()
    measured = max(time.perf_counter() - window.warm_until, 1e-9)
    latencies = window.latencies
    if not latencies:
        return LoadResult(0, 0, measured, 0.0, 0.0, 0.0)
    cuts = statistics.quantiles(latencies, n=100, method="inclusive")
    return LoadResult(
        len(latencies), len(window.errors), measured, cuts[49] * 1e3, cuts[94] * 1e3,
        cuts[98] * 1e3,
    )  # fmt: skip


def run_load_process(
    url: str, paths_file: Path, connections: int, seconds: float, warmup: float,
    rate: float = 0.0,
) -> LoadResult:  # fmt: skip
    """Run `run_load` in a process of its own (`python -m staysaga.bench load ...`)."""
    argv = [
        sys.executable, "-m", "staysaga.bench", "load", url, str(paths_file),
        str(connections), str(seconds), str(warmup), str(rate),
    ]  # fmt: skip
    done = subprocess.run(argv, capture_output=True, check=True)  # noqa: S603
    return LoadResult(**json.loads(done.stdout))
