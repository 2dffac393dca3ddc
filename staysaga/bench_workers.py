"""The booking benchmark's own workers: its baseline workflow and the no-op activity.

Production workers serve neither. `staysaga bench booking` runs these in a process of its
own (`python -m staysaga.bench_workers`, with the stack's environment) on the same
Temporal server, polling task queues of their own shaped like a booking's: a workflow
queue and one activity queue per queue of a booking's path (`workflows.baseline`).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import AsyncIterator

from temporalio import activity
from temporalio.client import Client
from temporalio.worker import Worker

from activities.models import NOOP, Done
from components.settings import load_settings
from staysaga.secrets import local_environment
from temporal.connect import connect
from temporal.names import TaskQueue
from workflows.baseline import BOOKING_SHAPE, BaselineWorkflow, baseline_queue

READY = "bench workers polling"
"""What the process prints once its workers poll."""


@activity.defn(name=NOOP)
async def noop(_: Done) -> Done:
    """Does nothing: what an activity costs the worker and the server alone."""
    return Done()


def baseline_workers(client: Client) -> list[Worker]:
    """The baseline's workflow worker, and a no-op activity worker per queue it uses."""
    workers = [
        Worker(client, task_queue=baseline_queue(TaskQueue.BOOKING), workflows=[BaselineWorkflow])
    ]
    for queue in dict.fromkeys(BOOKING_SHAPE):
        workers.append(Worker(client, task_queue=baseline_queue(queue), activities=[noop]))
    return workers


@contextlib.asynccontextmanager
async def running_baseline_workers(client: Client) -> AsyncIterator[None]:
    """Poll the baseline's queues for the block's duration."""
    async with contextlib.AsyncExitStack() as stack:
        for worker in baseline_workers(client):
            await stack.enter_async_context(worker)
        yield


async def main() -> None:
    """Serve the baseline on the Temporal server of the environment's settings until
    SIGINT or SIGTERM."""
    client = await connect(load_settings(local_environment()))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with running_baseline_workers(client):
        print(READY, flush=True)
        await stop.wait()


if __name__ == "__main__":
    asyncio.run(main())
    # A process that used the Temporal client can crash during interpreter shutdown after
    # its work is done (as staysaga.cli's entry point says): end it here.
    sys.stdout.flush()
    os._exit(0)
