"""The `staysaga` commands an operator runs against a stack: rotate the signing keys, make
an account an operator, replay workflow histories, reconcile now."""

from __future__ import annotations

import argparse
import asyncio
import sys

from components.settings import load_settings
from workflows.settings import ReconcileSettings


def auth(args: argparse.Namespace) -> int:
    from datetime import timedelta

    from services.auth.keys import DEFAULT_PUBLISH_AHEAD, rotate_keys
    from services.common.db import create_engine
    from services.common.migrations import migrate

    settings = load_settings()
    ahead = timedelta(0) if args.now else DEFAULT_PUBLISH_AHEAD

    async def run() -> str:
        engine = create_engine(settings.database_url("auth"))
        try:
            await migrate(engine, "services.auth.migrations")
            return await rotate_keys(engine, publish_ahead=ahead)
        finally:
            await engine.dispose()

    kid = asyncio.run(run())
    when = "now" if args.now else f"in {int(ahead.total_seconds())} s"
    print(f"new signing key {kid} is published and starts signing {when}", flush=True)
    return 0


def users(args: argparse.Namespace) -> int:
    from pydantic import TypeAdapter, ValidationError

    from services.common.db import create_engine
    from services.common.migrations import migrate
    from services.users import api as users_api
    from services.users.domain import grant_role

    try:
        email = TypeAdapter(users_api.Email).validate_python(args.email)
    except ValidationError:
        print(f"staysaga users: not an e-mail address: {args.email}", file=sys.stderr)
        return 2
    settings = load_settings()

    async def run() -> str | None:
        engine = create_engine(settings.database_url("users"))
        try:
            await migrate(engine, "services.users.migrations")
            return await grant_role(engine, email, users_api.OPERATOR)
        finally:
            await engine.dispose()

    user_id = asyncio.run(run())
    if user_id is None:
        print(f"staysaga users: no account has the e-mail address {email}", file=sys.stderr)
        return 2
    print(f"{email} (account {user_id}) is an operator from their next sign-in", flush=True)
    return 0


class NoSuchWorkflow(LookupError):
    """Temporal knows no workflow by the id given."""


def replay(args: argparse.Namespace) -> int:
    from pathlib import Path

    from temporalio.service import RPCError, RPCStatusCode

    from staysaga.secrets import local_environment
    from temporal.names import workflow_id_given
    from workflows.replay import ReplayOutcome, load_history_file, replay, server_histories

    if not (args.files or args.workflow_id or args.query):
        print("staysaga replay: give history files, --workflow-id or --query", file=sys.stderr)
        return 2

    files = []
    for name in args.files:
        path = Path(name)
        if not path.is_file():
            print(f"staysaga replay: no such history file: {name}", file=sys.stderr)
            return 2
        try:
            files.append(load_history_file(path))
        except ValueError as exc:
            print(f"staysaga replay: {name} is not a workflow history: {exc}", file=sys.stderr)
            return 2

    async def run() -> list[ReplayOutcome]:
        if files:
            return await replay(files)
        from temporal.connect import connect

        client = await connect(load_settings(local_environment()))
        if args.workflow_id:
            workflow_id = workflow_id_given(args.workflow_id)
            try:
                history = await client.get_workflow_handle(workflow_id).fetch_history()
            except RPCError as exc:
                if exc.status != RPCStatusCode.NOT_FOUND:
                    raise
                raise NoSuchWorkflow(workflow_id) from None
            return await replay([history], client.data_converter)
        return await replay(server_histories(client, args.query, args.limit), client.data_converter)

    try:
        outcomes = asyncio.run(run())
    except NoSuchWorkflow as missing:
        print(f"staysaga replay: no workflow {missing} in Temporal", file=sys.stderr)
        return 2
    for outcome in outcomes:
        verdict = "ok" if outcome.ok else f"FAILED: {outcome.error}"
        print(f"{outcome.workflow_id}: {verdict}", flush=True)
    failed = sum(not o.ok for o in outcomes)
    print(f"replayed {len(outcomes)} histories, {failed} failed", flush=True)
    if not outcomes:
        print("staysaga replay: nothing to replay", file=sys.stderr)
        return 1
    return 1 if failed else 0


def reconcile(args: argparse.Namespace) -> int:
    import uuid

    from staysaga.secrets import local_environment
    from temporal.connect import connect
    from temporal.names import TaskQueue
    from workflows.models import RECONCILE_WORKFLOW_TYPE, ReconcileInput, ReconcileSummary
    from workflows.schedules import RECONCILE_TIMEOUT, RECONCILER_WORKFLOW_ID

    settings = load_settings(local_environment())

    async def run() -> ReconcileSummary:
        client = await connect(settings)
        summary: ReconcileSummary = await client.execute_workflow(
            RECONCILE_WORKFLOW_TYPE,
            ReconcileInput(grace_seconds=settings.of(ReconcileSettings).grace_seconds),
            id=f"{RECONCILER_WORKFLOW_ID}-now-{uuid.uuid4().hex[:12]}",
            task_queue=TaskQueue.BOOKING,
            execution_timeout=RECONCILE_TIMEOUT,
            result_type=ReconcileSummary,
        )
        return summary

    summary = asyncio.run(run())
    for line in summary.lines():
        print(line, flush=True)
    return 0
