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

The processes and stand-ins are in `bench_servers`, the load generator in `bench_load`;
this module plans the run and reports it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import subprocess
import sys
import tempfile
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import httpx

from services.auth import api as auth_api
from staysaga.bench_load import LoadResult, run_load, run_load_process
from staysaga.bench_servers import (
    BENCH_CLIENT_ID,
    BENCH_CLIENT_SECRET,
    Process,
    children_cpu,
    free_port,
    serve,
    spawn,
    stop,
    wait_ready,
)
from staysaga.memory import cpu_seconds

# The target: Search sustains this share of the ceiling's throughput, with this p99 when
# the same connections carry searches at that rate.
TARGET_SHARE = 0.25
"""Search's closed-loop throughput, as a share of the ceiling's."""
PACED = ((0.10, 20.0), (0.20, 50.0))
"""The paced runs: (share of the ceiling's throughput, the p99 in ms it must stay under)."""
KEPT_UP = 0.98  # a paced run answering less than this share of its rate fell behind


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
        ports = {name: free_port() for name in ("issuer", "hello", "search", "reservations")}
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
        stack.callback(stop, processes)
        bench = [sys.executable, "-m", "staysaga.bench"]
        plan = [
            ("issuer", [*bench, "serve", "issuer", str(ports["issuer"])], auth_api.JWKS_PATH),
            ("hello", [*bench, "serve", "hello", str(ports["hello"])], "/hello"),
            ("reservations", [*cli, "serve", "reservations"], "/readyz"),
            ("search", [*cli, "serve", "search"], "/readyz"),
        ]
        for name, argv, ready in plan:
            process = spawn(name, argv, env, f"http://127.0.0.1:{ports[name]}")
            processes.append(process)
            wait_ready(process, ready)
        paths_dir = var_dir / "bench"
        paths_dir.mkdir(exist_ok=True)
        (paths_dir / "hello.txt").write_text("/hello\n")
        (paths_dir / "search.txt").write_text("\n".join(search_paths(args.requests)) + "\n")
        # One request to check it works, and to fetch and cache the service token.
        probe = httpx.get(f"{processes[3].url}{search_paths(1, seed=2)[0]}", timeout=30)
        if probe.status_code != 200:
            print(f"search answered {probe.status_code}: {probe.text[:500]}", file=sys.stderr)
            stop(processes)
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
        ceiling = run_load_process(
            processes[1].url, paths_dir / "hello.txt", args.connections, args.seconds, args.warmup
        )
        servers = {p.name: p.popen.pid for p in processes if p.name in ("search", "reservations")}
        cpu_before = {name: cpu_seconds(pid) for name, pid in servers.items()}
        cpu_before["load generator"] = children_cpu()
        search = run_load_process(
            processes[3].url, paths_dir / "search.txt", args.connections, args.seconds,
            args.warmup,
        )  # fmt: skip
        cpu_after = {name: cpu_seconds(pid) for name, pid in servers.items()}
        cpu_after["load generator"] = children_cpu()
        paced = [
            run_load_process(
                processes[3].url,
                paths_dir / "search.txt",
                args.connections,
                args.seconds,
                args.warmup,
                rate=share * ceiling.rate,
            )  # fmt: skip
            for share, _ in PACED
        ]
    rows = [
        ("ceiling: Starlette JSON hello", ceiling),
        ("search: city + dates (Search+Resv.)", search),
        *(
            (f"search paced at {share:.0%} of the ceiling", run)
            for (share, _), run in zip(PACED, paced, strict=True)
        ),
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
    meets = ratio >= TARGET_SHARE
    print(
        f"search/ceiling throughput: {ratio:.1%} as fast as it answers "
        f"(p99 {search.p99_ms:.0f} ms: {args.connections} connections never idle wait "
        f"{args.connections} / throughput on average)"
    )
    for (share, p99_ms), run in zip(PACED, paced, strict=True):
        rate = share * ceiling.rate
        kept_up = run.rate >= KEPT_UP * rate
        meets = meets and kept_up and run.p99_ms <= p99_ms
        print(
            f"  paced at {rate:.0f}/s ({share:.0%} of the ceiling): {run.rate:.0f}/s answered, "
            f"p99 {run.p99_ms:.1f} ms (at most {p99_ms:.0f})"
        )
    targets = ", ".join(f"p99 <= {p99:.0f} ms at {share:.0%}" for share, p99 in PACED)
    print(
        f"{'meets' if meets else 'misses'} the target: >= {TARGET_SHARE:.0%} of the "
        f"ceiling's throughput, {targets}"
    )
    return 0 if search.errors == 0 and all(run.errors == 0 for run in paced) else 1


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
    parser.add_argument(
        "--soak",
        action="store_true",
        help="booking: only bookings (no baseline), every process's memory read every 100; "
        "e.g. --soak --bookings 1000",
    )
    parser.add_argument(
        "--scaled",
        action="store_true",
        help="booking: the embedded stack, then `up --scaled` (PostgreSQL, two copies of "
        "everything behind nginx), one after the other",
    )
    parser.add_argument(
        "--follow-seconds",
        type=float,
        default=0.1,
        help="booking: how often a confirmed booking is polled until e-mailed (default "
        "%(default)s; the live page's pace is 0.5)",
    )


def _main(argv: list[str]) -> None:
    """Internal entry points the benchmark spawns: `serve NAME PORT`, `load ...`."""
    if argv[0] == "serve":
        serve(argv[1], int(argv[2]))
    elif argv[0] == "load":
        url, paths_file, connections, seconds, warmup, rate = argv[1:7]
        paths = Path(paths_file).read_text().split()
        load = run_load(url, paths, int(connections), float(seconds), float(warmup), float(rate))
        try:
            import uvloop
        except ImportError:
            result = asyncio.run(load)
        else:
            result = uvloop.run(load)
        print(json.dumps(result.__dict__))


if __name__ == "__main__":
    _main(sys.argv[1:])
