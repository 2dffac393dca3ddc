"""The `staysaga` command line."""

from __future__ import annotations

import argparse
import asyncio
import importlib
import os
import sys
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, NoReturn

from components.registry import COMPONENTS, WORKERS
from components.settings import describe_settings, load_settings
from services.common.settings import Settings, SettingsError
from staysaga import operator_commands


def _cmd_up(args: argparse.Namespace) -> int:
    from staysaga.stack import Stack

    settings = load_settings()
    if args.scaled:
        from staysaga.scaled import ScaledLayout

        return asyncio.run(Stack(settings, layout=ScaledLayout(settings)).run())
    return asyncio.run(Stack(settings).run())


def _cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from services.common import tracing
    from services.common.app import settle_for_serving
    from services.common.logging import configure_logging

    names: list[str] = list(dict.fromkeys(args.component))
    together = "+".join(names)
    settings = load_settings()
    configure_logging(together, settings.common.log_level, settings.common.log_format)
    # Before the app is built: its engine, clients and Temporal client are traced too.
    tracing.configure_tracing(together, settings.env)
    servers = [uvicorn.Server(server_config(name, settings)) for name in names]
    settle_for_serving()
    try:
        if len(servers) == 1:
            servers[0].run()
        else:
            loop_factory = servers[0].config.get_loop_factory()
            with asyncio.Runner(loop_factory=loop_factory) as runner:
                runner.run(serve_together(servers))
    finally:
        tracing.shutdown_tracing()
    return 0


def server_config(name: str, settings: Settings) -> Any:
    """uvicorn's configuration for one component's app, as `staysaga serve` runs it (its
    tracing instrumented: call `tracing.configure_tracing` first)."""
    import uvicorn

    from services.common import tracing

    module_name, _, factory_name = COMPONENTS[name].app.partition(":")
    factory = getattr(importlib.import_module(module_name), factory_name)
    app = factory(settings)
    tracing.instrument_app(app)
    return uvicorn.Config(
        app,
        # The mail sink is a local development tool with no tokens, and the codec server
        # answers the dev server's UI without one: loopback only.
        host="127.0.0.1" if _loopback_only(name, settings) else settings.host,
        port=settings.port(name),
        log_config=None,
        access_log=False,
        server_header=False,
        **proxy_options(settings),
    )


async def serve_together(servers: Sequence[Any]) -> None:
    """Run several uvicorn servers (each its own app and port) on one event loop: when
    one stops (a signal, a failed start), the others stop too, so the process never
    lives on serving half of what it was started for."""
    tasks = [asyncio.create_task(server.serve()) for server in servers]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for server in servers:
            server.should_exit = True
        await asyncio.gather(*tasks, return_exceptions=True)
    for task in tasks:
        task.result()


def _loopback_only(component: str, settings: Settings) -> bool:
    return component == "mailsink" or (component == "codec" and settings.temporal.dev_server)


def proxy_options(settings: Settings) -> dict[str, Any]:
    """uvicorn's proxy options: X-Forwarded-* are believed only from the trusted proxies.

    uvicorn would otherwise believe them from loopback, so anything on the machine could
    claim any address (and dodge, or aim, the sign-in throttle).
    """
    trusted = settings.common.trusted_proxies
    if not trusted:
        return {"proxy_headers": False, "forwarded_allow_ips": ""}
    return {"proxy_headers": True, "forwarded_allow_ips": trusted}


def _cmd_seed(args: argparse.Namespace) -> int:
    from services.common.db import create_engine
    from services.common.logging import configure_logging
    from services.common.migrations import migrate
    from services.reservations.seed import seed_inventory
    from services.search.seed import seed_catalogue

    settings = load_settings()
    configure_logging("seed", settings.common.log_level, "text")

    async def run() -> None:
        engine = create_engine(settings.database_url("search"))
        try:
            await migrate(engine, "services.search.migrations")
            result = await seed_catalogue(engine, args.min_population, force=args.force)
        finally:
            await engine.dispose()
        verb = "seeded" if result.seeded else "already seeded (use --force to reseed)"
        print(
            f"search catalogue {verb}: {result.cities} cities, {result.hotels} hotels, "
            f"{result.room_types} room types",
            flush=True,
        )
        engine = create_engine(settings.database_url("reservations"))
        try:
            await migrate(engine, "services.reservations.migrations")
            stock = await seed_inventory(engine, args.min_population, force=args.force)
        finally:
            await engine.dispose()
        verb = "seeded" if stock.seeded else "already seeded (use --force to reseed)"
        print(f"reservations inventory {verb}: {stock.room_types} room types", flush=True)

    asyncio.run(run())
    return 0


def _cmd_worker(args: argparse.Namespace) -> int:
    from temporalio.runtime import Runtime

    from services.common import tracing
    from services.common.logging import configure_logging
    from temporal.health import serve_health
    from temporal.metrics import prometheus_runtime
    from temporal.names import TaskQueue

    settings = load_settings()
    queue = TaskQueue(args.queue)
    configure_logging(
        f"worker-{queue.value}", settings.common.log_level, settings.common.log_format
    )
    # Before the first client: workers inherit its tracing interceptor.
    tracing.configure_tracing(f"worker-{queue.value}", settings.env)
    if queue is TaskQueue.BOOKING:
        from workflows.worker import main as run_workflow_worker

        def run_worker() -> Awaitable[None]:
            return run_workflow_worker(settings)
    else:
        from activities.worker import main as run_activity_worker

        def run_worker() -> Awaitable[None]:
            return run_activity_worker(settings, queue)

    port = settings.worker_health_port(queue.value)
    metrics_port = settings.worker_metrics_port(queue.value)
    try:
        # Before the first client: the SDK's metrics (and the saga's) for Prometheus.
        Runtime.set_default(prometheus_runtime(settings.host, metrics_port))
    except ValueError as exc:  # the port is taken
        variable = f"WORKER_{queue.value.upper()}_METRICS_PORT"
        print(
            f"staysaga worker: cannot serve metrics on port {metrics_port} ({variable}): {exc}",
            file=sys.stderr,
        )
        return 1

    beside = [_server_beside(server_config(name, settings)) for name in args.serve]

    async def run() -> int:
        # This worker's /healthz and /readyz, for `staysaga up` to probe (temporal.health).
        try:
            health = await serve_health(settings.host, port)
        except OSError as exc:
            variable = f"WORKER_{queue.value.upper()}_HEALTH_PORT"
            print(
                f"staysaga worker: cannot listen on port {port} ({variable}): {exc}",
                file=sys.stderr,
            )
            return 1
        served = [asyncio.create_task(server.serve()) for server in beside]
        try:
            working: asyncio.Future[None] = asyncio.ensure_future(run_worker())
            await asyncio.wait([working, *served], return_when=asyncio.FIRST_COMPLETED)
            if not working.done():
                # What it serves beside the worker stopped (its port taken?): so does the
                # process, for the launcher to restart it whole.
                print("staysaga worker: a server beside the worker stopped", file=sys.stderr)
                working.cancel()
                return 1
            working.result()
        finally:
            for server in beside:
                server.should_exit = True
            await asyncio.gather(*served, return_exceptions=True)
            health.close()
        return 0

    try:
        return asyncio.run(run())
    finally:
        tracing.shutdown_tracing()


def _server_beside(config: Any) -> Any:
    """A uvicorn server to run beside a worker on its event loop: it leaves SIGINT and
    SIGTERM to the worker (which finishes its in-flight tasks first) and stops when told
    (`should_exit`)."""
    import contextlib

    import uvicorn

    server = uvicorn.Server(config)
    server.capture_signals = contextlib.nullcontext  # type: ignore[method-assign,assignment]
    return server


def _cmd_bench(args: argparse.Namespace) -> int:
    if args.target == "booking":
        from staysaga.bench_booking import run_booking_bench

        return run_booking_bench(args)
    from staysaga.bench import run_search_bench

    return run_search_bench(args)


def _cmd_chaos(args: argparse.Namespace) -> int:
    from staysaga.chaos import run_chaos

    return run_chaos(args)


def _cmd_config(args: argparse.Namespace) -> int:
    settings = load_settings()
    for name, default, doc in describe_settings():
        value = settings.values[name]
        shown = "" if value is None else str(value)
        if shown and "SECRET" in name:
            shown = "(set, not shown)"
        print(f"{name}={shown}\n    {doc}" + (f" (default {default})" if default else ""))
    return 0


# The commands `staysaga up` runs in every process of the stack: their parser leaves out
# the options of the benchmarks and the fault drill, whose modules load the Temporal
# client, the test driver and most of the project (~45 MB a process).
STACK_COMMANDS = frozenset({"up", "serve", "worker", "seed"})


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The argument parser of every subcommand; given the command about to run, one of
    STACK_COMMANDS, without the options only the benchmarks and the drill take."""
    heavy = command not in STACK_COMMANDS
    parser = argparse.ArgumentParser(
        prog="staysaga", description="Hotel booking as microservices and a Temporal saga."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands: list[tuple[str, str, Callable[[argparse.Namespace], int]]] = [
        ("up", "start the whole local stack and print where to click", _cmd_up),
        ("serve", "run a service (what `up` runs for each)", _cmd_serve),
        ("seed", "load the demo catalogue (a no-op once loaded)", _cmd_seed),
        ("worker", "run the Temporal worker of one task queue", _cmd_worker),
        ("replay", "replay workflow histories against the current code", operator_commands.replay),
        ("config", "list every setting, its value and its meaning", _cmd_config),
        (
            "reconcile",
            "find and undo what failed bookings left behind, now",
            operator_commands.reconcile,
        ),
        (
            "auth",
            "authorization server chores: `staysaga auth rotate-keys`",
            operator_commands.auth,
        ),
        ("users", "accounts: `staysaga users grant-operator EMAIL`", operator_commands.users),
        ("bench", "benchmarks: `bench search` (vs the framework), `bench booking`", _cmd_bench),
        ("chaos", "a fault drill on a stack of its own: bookings must end consistent", _cmd_chaos),
    ]
    subparsers = {}
    for name, help_text, handler in commands:
        subparsers[name] = sub.add_parser(name, help=help_text, description=help_text)
        subparsers[name].set_defaults(handler=handler)
    subparsers["up"].add_argument(
        "--scaled",
        action="store_true",
        help="the production shape: every service on PostgreSQL, two copies of every service "
        "and worker, nginx as the edge in front (needs nginx and a PostgreSQL server)",
    )
    subparsers["serve"].add_argument(
        "component",
        nargs="+",
        choices=sorted(COMPONENTS),
        help="one component; several share one process (what `up` does for the bank and "
        "the mail sink, the two stand-ins without OAuth clients)",
    )
    subparsers["worker"].add_argument("queue", choices=[queue.value for queue in WORKERS])
    subparsers["worker"].add_argument(
        "--serve",
        action="append",
        default=[],
        choices=["codec"],
        help="also serve this component from the worker's process (what `up` does with the "
        "payload codec beside the workflow worker: both operator-side, both hold the "
        "payload keys and nothing else of the codec's)",
    )
    replay = subparsers["replay"]
    replay.add_argument("files", nargs="*", help="history JSON files")
    replay.add_argument(
        "--workflow-id",
        help="replay this workflow's history from the server (a booking id as the website "
        "shows it, or booking-<id>)",
    )
    replay.add_argument("--query", help="replay every workflow this visibility query lists")
    replay.add_argument("--limit", type=int, default=None, help="at most this many (--query)")
    subparsers["auth"].add_argument("action", choices=["rotate-keys"])
    subparsers["auth"].add_argument(
        "--now", action="store_true", help="sign with the new key at once (no publish-ahead)"
    )
    subparsers["users"].add_argument("action", choices=["grant-operator"])
    subparsers["users"].add_argument("email", help="the account's e-mail address")
    subparsers["users"].error = _one_line_error("users")  # type: ignore[method-assign,assignment]
    from services.common.catalogue import DEFAULT_MIN_POPULATION

    if heavy:
        from staysaga.bench import add_arguments as add_bench_arguments
        from staysaga.chaos_plan import add_arguments as add_chaos_arguments

        add_bench_arguments(subparsers["bench"])
        add_chaos_arguments(subparsers["chaos"])
    subparsers["chaos"].error = _one_line_error("chaos")  # type: ignore[method-assign,assignment]

    subparsers["seed"].add_argument("--force", action="store_true", help="replace existing data")
    subparsers["seed"].add_argument(
        "--min-population",
        type=int,
        default=DEFAULT_MIN_POPULATION,
        help="only cities at least this big get hotels (default %(default)s)",
    )
    return parser


def _one_line_error(command: str) -> Callable[[str], NoReturn]:
    """A parser's error handler that says what is wrong in one line (status 2)."""

    def error(message: str) -> NoReturn:
        print(f"staysaga {command}: {message}", file=sys.stderr)
        sys.exit(2)

    return error


def run(argv: Sequence[str] | None = None) -> int:
    """Parse arguments and run a command; returns the exit status."""
    given = list(sys.argv[1:] if argv is None else argv)
    args = build_parser(given[0] if given else None).parse_args(given)
    try:
        status: int = args.handler(args)
        return status
    except SettingsError as exc:
        print(f"staysaga: configuration error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point. Ends with os._exit: a process that used the Temporal client can crash
    during interpreter shutdown after its work is done (sdk-python issue #300)."""
    # Whatever a staysaga process (or the Temporal server `up` starts) creates, SQLite
    # files and their journals included, only its owner may read.
    os.umask(0o077)
    status = run(argv)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)


if __name__ == "__main__":
    main()
