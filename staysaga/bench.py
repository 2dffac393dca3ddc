"""`staysaga bench search`: Search's throughput and latency against the framework's ceiling.

What runs, each as its own process on a free loopback port:
- a stand-in token issuer (JWKS + client-credentials token endpoint), so Search can call
  Reservations with a real, verified service token without the auth service's cost
  entering the measurement (the token is fetched once and cached);
- Reservations and Search (`staysaga serve ...`, exactly as `staysaga up` runs them) over
  a freshly seeded demo catalogue;
- the ceiling: a trivial Starlette JSON endpoint served by uvicorn with the same options;
- the load generator: a separate process (so it does not share an event loop with any
  server) with N keep-alive HTTP/1.1 connections on raw asyncio streams (httpx costs
  ~10x more CPU per request and would measure itself), each sending its next request as
  soon as the previous answer is read.

The ceiling is measured first, then Search, for the same duration and connection count,
in the same run. Search requests are city searches with dates: cities drawn weighted by
population, check-in 1 to 180 days ahead, 1 to 7 nights, 1 to 4 guests.

One module because it is one benchmark: the stand-in issuer, the ceiling, the load
generator and the report share the run's processes and figures.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import resource
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from services.auth import api as auth_api

BENCH_CLIENT_ID = "search"
BENCH_CLIENT_SECRET = "bench-only-secret"  # noqa: S105 - a throwaway local stand-in
READY_TIMEOUT_SECONDS = 120.0
# The target: Search sustains this share of the ceiling's throughput, with this p99 when
# the same connections carry searches at that rate.
TARGET_SHARE = 0.10
TARGET_P99_MS = 50.0
KEPT_UP = 0.98  # a paced run answering less than this share of its rate fell behind


# ---------------------------------------------------------------------------- processes


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def issuer_app() -> Any:
    """A stand-in authorization server: its JWKS and a client-credentials token endpoint."""
    from joserfc import jwt
    from joserfc.jwk import ECKey, KeySet
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    issuer = os.environ["BENCH_ISSUER"]
    key = ECKey.generate_key("P-256", parameters={"kid": uuid.uuid4().hex[:8], "alg": "ES256"})
    jwks = KeySet([key]).as_dict(private=False)

    async def keys(_request: Request) -> JSONResponse:
        return JSONResponse(jwks)

    async def token(request: Request) -> JSONResponse:
        form = {k: v[0] for k, v in urllib.parse.parse_qs((await request.body()).decode()).items()}
        now = int(time.time())
        claims = {
            "iss": issuer,
            "aud": str(form.get("resource", "")),
            "sub": BENCH_CLIENT_ID,
            "client_id": BENCH_CLIENT_ID,
            "scope": str(form.get("scope", "")),
            "iat": now,
            "exp": now + 3600,
            "jti": uuid.uuid4().hex,
        }
        header = {"alg": "ES256", "typ": "at+jwt", "kid": key.kid}
        access = jwt.encode(header, claims, key, algorithms=["ES256"])
        return JSONResponse({"access_token": access, "token_type": "Bearer", "expires_in": 3600})

    return Starlette(
        routes=[
            Route(auth_api.JWKS_PATH, keys),
            Route(auth_api.TOKEN_PATH, token, methods=["POST"]),
        ]
    )


def hello_app() -> Any:
    """The ceiling: the least a Starlette JSON endpoint can do."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    async def hello(_request: Request) -> JSONResponse:
        return JSONResponse({"hello": "world"})

    return Starlette(routes=[Route("/hello", hello)])


def _serve(app_name: str, port: int) -> None:
    import uvicorn

    from services.common.app import settle_for_serving

    app = {"issuer": issuer_app, "hello": hello_app}[app_name]()
    # The same options, and the same collector settings, as `staysaga serve`.
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_config=None, access_log=False, server_header=False
    )
    settle_for_serving()
    uvicorn.Server(config).run()


@dataclass
class Process:
    """A child process of the benchmark."""

    name: str
    popen: subprocess.Popen[bytes]
    url: str


def _spawn(name: str, argv: list[str], env: dict[str, str], url: str) -> Process:
    popen = subprocess.Popen(  # noqa: S603 - our own interpreter and module
        argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True
    )
    return Process(name, popen, url)


def _wait_ready(process: Process, path: str) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    while True:
        if process.popen.poll() is not None:
            error = (
                process.popen.stderr.read().decode(errors="replace") if process.popen.stderr else ""
            )
            raise RuntimeError(f"{process.name} exited with {process.popen.returncode}:\n{error}")
        try:
            if httpx.get(process.url + path, timeout=2.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{process.name} did not answer {path} in time")
        time.sleep(0.1)


def _stop(processes: Sequence[Process]) -> None:
    for process in reversed(processes):
        if process.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.popen.pid, signal.SIGTERM)
    for process in reversed(processes):
        try:
            process.popen.wait(timeout=10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.popen.pid, signal.SIGKILL)
            process.popen.wait()


# ---------------------------------------------------------------------------- load


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


async def _load(
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


def search_paths(count: int, seed: int = 1) -> list[str]:
    """City searches with dates: cities weighted by population, random stays."""
    from services.common.catalogue import DEFAULT_MIN_POPULATION, load_cities
    from services.search.api import HOTELS_PATH

    cities = load_cities(DEFAULT_MIN_POPULATION)
    rng = random.Random(seed)
    today = time.gmtime()
    base = time.mktime((today.tm_year, today.tm_mon, today.tm_mday, 12, 0, 0, 0, 0, -1))
    chosen = rng.choices(cities, weights=[c.population for c in cities], k=count)
    paths = []
    for city in chosen:
        start = base + rng.randint(1, 180) * 86400
        nights = rng.randint(1, 7)
        query = {
            "city": city.name,
            "check_in": time.strftime("%Y-%m-%d", time.localtime(start)),
            "check_out": time.strftime("%Y-%m-%d", time.localtime(start + nights * 86400)),
            "guests": rng.choice((1, 2, 2, 2, 3, 4)),
        }
        # Raw requests, to load Search without a client's own cost: its path, its query.
        paths.append(f"{HOTELS_PATH}?{urllib.parse.urlencode(query)}")
    return paths


def cpu_seconds(pid: int) -> float | None:
    """CPU time (user + system) a process has used so far; None where /proc is absent."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _run_load_process(
    url: str, paths_file: Path, connections: int, seconds: float, warmup: float,
    rate: float = 0.0,
) -> LoadResult:  # fmt: skip
    argv = [
        sys.executable, "-m", "staysaga.bench", "load", url, str(paths_file),
        str(connections), str(seconds), str(warmup), str(rate),
    ]  # fmt: skip
    done = subprocess.run(argv, capture_output=True, check=True)  # noqa: S603
    return LoadResult(**json.loads(done.stdout))


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


# ---------------------------------------------------------------------------- the command


def _table(rows: list[tuple[str, LoadResult]]) -> Iterator[str]:
    yield f"{'target':<34} {'req/s':>8} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'errors':>7}"
    for name, r in rows:
        yield (
            f"{name:<34} {r.rate:>8.0f} {r.p50_ms:>8.1f} {r.p95_ms:>8.1f} {r.p99_ms:>8.1f}"
            f" {r.errors:>7}"
        )


def run_search_bench(args: argparse.Namespace) -> int:
    """Seed, start the processes, measure the ceiling then Search, print the figures."""
    from components.settings import load_settings

    with contextlib.ExitStack() as stack:
        var_dir = (
            Path(args.var_dir)
            if args.var_dir
            else Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="staysaga-bench-")))
        )
        ports = {name: _free_port() for name in ("issuer", "hello", "search", "reservations")}
        issuer_url = f"http://127.0.0.1:{ports['issuer']}"
        env = {
            **os.environ,
            "STAYSAGA_VAR_DIR": str(var_dir),
            "STAYSAGA_LOG_LEVEL": "warning",
            "STAYSAGA_HOST": "127.0.0.1",
            "SEARCH_PORT": str(ports["search"]),
            "RESERVATIONS_PORT": str(ports["reservations"]),
            "AUTH_URL": issuer_url,
            "AUTH_ISSUER": issuer_url,
            "BENCH_ISSUER": issuer_url,
            "STAYSAGA_CLIENT_ID": BENCH_CLIENT_ID,
            "STAYSAGA_CLIENT_SECRET": BENCH_CLIENT_SECRET,
        }
        # SEARCH_DATABASE_URL / RESERVATIONS_DATABASE_URL, if set, are used (and seeded
        # if empty); otherwise SQLite files in the bench folder.
        for name in ("SEARCH", "RESERVATIONS"):
            env.pop(f"{name}_URL", None)
        load_settings(env)  # fail early, naming a bad variable
        cli = [sys.executable, "-m", "staysaga.cli"]
        print(f"seeding the demo catalogue into {var_dir} ...", flush=True)
        subprocess.run([*cli, "seed"], env=env, check=True, stdout=subprocess.DEVNULL)  # noqa: S603
        processes: list[Process] = []
        stack.callback(_stop, processes)
        bench = [sys.executable, "-m", "staysaga.bench"]
        plan = [
            ("issuer", [*bench, "serve", "issuer", str(ports["issuer"])], auth_api.JWKS_PATH),
            ("hello", [*bench, "serve", "hello", str(ports["hello"])], "/hello"),
            ("reservations", [*cli, "serve", "reservations"], "/readyz"),
            ("search", [*cli, "serve", "search"], "/readyz"),
        ]
        for name, argv, ready in plan:
            process = _spawn(name, argv, env, f"http://127.0.0.1:{ports[name]}")
            processes.append(process)
            _wait_ready(process, ready)
        paths_dir = var_dir / "bench"
        paths_dir.mkdir(exist_ok=True)
        (paths_dir / "hello.txt").write_text("/hello\n")
        (paths_dir / "search.txt").write_text("\n".join(search_paths(args.requests)) + "\n")
        # One request to check it works, and to fetch and cache the service token.
        probe = httpx.get(f"{processes[3].url}{search_paths(1, seed=2)[0]}", timeout=30)
        if probe.status_code != 200:
            print(f"search answered {probe.status_code}: {probe.text[:500]}", file=sys.stderr)
            _stop(processes)
            for process in processes:
                assert process.popen.stderr is not None
                tail = process.popen.stderr.read().decode(errors="replace")[-3000:]
                print(f"--- {process.name} ---\n{tail}", file=sys.stderr)
            return 1
        load_average = ", ".join(f"{x:.1f}" for x in os.getloadavg())
        print(
            f"load average before: {load_average}; load: {args.connections} connections, "
            f"{args.warmup:.0f} s warm-up then "
            f"{args.seconds:.0f} s per target, generator in its own process; "
            f"{os.cpu_count()} CPUs shared by everything",
            flush=True,
        )
        ceiling = _run_load_process(
            processes[1].url, paths_dir / "hello.txt", args.connections, args.seconds, args.warmup
        )
        servers = {p.name: p.popen.pid for p in processes if p.name in ("search", "reservations")}
        cpu_before = {name: cpu_seconds(pid) for name, pid in servers.items()}
        cpu_before["load generator"] = _children_cpu()
        search = _run_load_process(
            processes[3].url, paths_dir / "search.txt", args.connections, args.seconds,
            args.warmup,
        )  # fmt: skip
        cpu_after = {name: cpu_seconds(pid) for name, pid in servers.items()}
        cpu_after["load generator"] = _children_cpu()
        target_rate = TARGET_SHARE * ceiling.rate
        paced = _run_load_process(
            processes[3].url, paths_dir / "search.txt", args.connections, args.seconds,
            args.warmup, rate=target_rate,
        )  # fmt: skip
    rows = [
        ("ceiling: Starlette JSON hello", ceiling),
        ("search: city + dates (Search+Resv.)", search),
        (f"search paced at {TARGET_SHARE:.0%} of the ceiling", paced),
    ]
    for line in _table(rows):
        print(line)
    # CPU per search in each server (warm-up included in both the time and the count): a
    # figure that, unlike the rates, hardly moves with the noise of a shared machine.
    sent = search.requests * (args.seconds + args.warmup) / args.seconds
    costs = [
        f"{name} {(after - before) / sent * 1e3:.2f} ms"
        for name, before in cpu_before.items()
        if before is not None and (after := cpu_after[name]) is not None and sent
    ]
    if costs:
        print("CPU per search: " + ", ".join(costs))
    ratio = search.rate / ceiling.rate if ceiling.rate else 0.0
    kept_up = paced.rate >= KEPT_UP * target_rate
    meets = ratio >= TARGET_SHARE and kept_up and paced.p99_ms < TARGET_P99_MS
    print(
        f"search/ceiling throughput: {ratio:.1%} as fast as it answers "
        f"(p99 {search.p99_ms:.0f} ms: {args.connections} connections never idle wait "
        f"{args.connections} / throughput on average); paced at {target_rate:.0f}/s "
        f"({TARGET_SHARE:.0%} of the ceiling): {paced.rate:.0f}/s answered, "
        f"p99 {paced.p99_ms:.1f} ms"
    )
    print(
        f"{'meets' if meets else 'misses'} the target: >= {TARGET_SHARE:.0%} of the "
        f"ceiling's throughput, and p99 < {TARGET_P99_MS:.0f} ms at that rate"
    )
    return 0 if search.errors == 0 and paced.errors == 0 else 1


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `staysaga bench search|booking`."""
    parser.add_argument("target", choices=["search", "booking"], help="what to measure")
    parser.add_argument("--connections", type=int, default=100, help="(default %(default)s)")
    parser.add_argument(
        "--seconds", type=float, default=15.0, help="measured time per target (default %(default)s)"
    )
    parser.add_argument("--warmup", type=float, default=3.0, help="(default %(default)s)")
    parser.add_argument(
        "--requests", type=int, default=5000, help="distinct search requests (default %(default)s)"
    )
    parser.add_argument("--var-dir", help="keep the seeded databases here (default: a temp dir)")
    parser.add_argument(
        "--bookings", type=int, default=100, help="booking: runs of each kind (default %(default)s)"
    )
    parser.add_argument(
        "--concurrency", type=int, default=10, help="booking: runs in flight (default %(default)s)"
    )


def _main(argv: list[str]) -> None:
    """Internal entry points the benchmark spawns: `serve NAME PORT`, `load ...`."""
    if argv[0] == "serve":
        _serve(argv[1], int(argv[2]))
    elif argv[0] == "load":
        url, paths_file, connections, seconds, warmup, rate = argv[1:7]
        paths = Path(paths_file).read_text().split()
        load = _load(url, paths, int(connections), float(seconds), float(warmup), float(rate))
        try:
            import uvloop
        except ImportError:
            result = asyncio.run(load)
        else:
            result = uvloop.run(load)
        print(json.dumps(result.__dict__))


if __name__ == "__main__":
    _main(sys.argv[1:])
