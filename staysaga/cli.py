"""The `staysaga` command line."""

from __future__ import annotations

import argparse
import asyncio
import importlib
import os
import sys
from collections.abc import Callable, Sequence

from services.common.settings import SettingsError, describe_settings, load_settings
from staysaga.components import SERVICE_APPS


def _cmd_up(args: argparse.Namespace) -> int:
    from staysaga.stack import Stack

    return asyncio.run(Stack(load_settings()).run())


def _cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from services.common.logging import configure_logging

    settings = load_settings()
    configure_logging(
        args.component, settings["STAYSAGA_LOG_LEVEL"], settings["STAYSAGA_LOG_FORMAT"]
    )
    module_name, _, factory_name = SERVICE_APPS[args.component].partition(":")
    factory = getattr(importlib.import_module(module_name), factory_name)
    config = uvicorn.Config(
        factory(settings),
        # The mail sink is a local development tool with no tokens: loopback only.
        host="127.0.0.1" if args.component == "mailsink" else settings.host,
        port=settings.port(args.component),
        log_config=None,
        access_log=False,
        server_header=False,
    )
    uvicorn.Server(config).run()
    return 0


def _cmd_seed(args: argparse.Namespace) -> int:
    from services.common.db import create_engine
    from services.common.logging import configure_logging
    from services.common.migrations import migrate
    from services.search.seed import seed_catalogue

    settings = load_settings()
    configure_logging("seed", settings["STAYSAGA_LOG_LEVEL"], "text")

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

    asyncio.run(run())
    return 0


def _cmd_config(args: argparse.Namespace) -> int:
    settings = load_settings()
    for name, default, doc in describe_settings():
        value = settings[name]
        shown = "" if value is None else str(value)
        print(f"{name}={shown}\n    {doc}" + (f" (default {default})" if default else ""))
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    parser = argparse.ArgumentParser(
        prog="staysaga", description="Hotel booking as microservices and a Temporal saga."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands: list[tuple[str, str, Callable[[argparse.Namespace], int]]] = [
        ("up", "start the whole local stack and print where to click", _cmd_up),
        ("serve", "run one service (what `up` runs for each)", _cmd_serve),
        ("seed", "load the demo catalogue (a no-op once loaded)", _cmd_seed),
        ("config", "list every setting, its value and its meaning", _cmd_config),
    ]
    subparsers = {}
    for name, help_text, handler in commands:
        subparsers[name] = sub.add_parser(name, help=help_text, description=help_text)
        subparsers[name].set_defaults(handler=handler)
    subparsers["serve"].add_argument("component", choices=sorted(SERVICE_APPS))
    from services.search.catalogue import DEFAULT_MIN_POPULATION

    subparsers["seed"].add_argument("--force", action="store_true", help="replace existing data")
    subparsers["seed"].add_argument(
        "--min-population",
        type=int,
        default=DEFAULT_MIN_POPULATION,
        help="only cities at least this big get hotels (default %(default)s)",
    )
    return parser


def run(argv: Sequence[str] | None = None) -> int:
    """Parse arguments and run a command; returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except SettingsError as exc:
        print(f"staysaga: configuration error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point. Ends with os._exit: a process that used the Temporal client can crash
    during interpreter shutdown after its work is done (sdk-python issue #300)."""
    status = run(argv)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)


if __name__ == "__main__":
    main()
