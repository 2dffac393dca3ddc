"""Running a Temporal worker as a process: connect, poll, shut down gracefully on a signal.

The running worker is reported to the process's health endpoint (temporal.health).
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from temporalio.client import Client
from temporalio.worker import Worker

from temporal.health import PROCESS_HEALTH

log = logging.getLogger("staysaga.worker")
GRACEFUL_SHUTDOWN = timedelta(seconds=10)


async def run_until_signalled(
    client: Client,
    task_queue: str,
    *,
    workflows: Sequence[type] = (),
    activities: Sequence[Any] = (),
    max_cached_workflows: int | None = None,
) -> None:
    """Poll `task_queue` until SIGINT or SIGTERM, then finish in-flight work and return.
    `max_cached_workflows`: how many workflows it keeps in memory (None: the SDK's 1,000)."""
    options: dict[str, Any] = {}
    if max_cached_workflows is not None:
        options["max_cached_workflows"] = max_cached_workflows
    worker = Worker(
        client,
        task_queue=task_queue,
        workflows=list(workflows),
        activities=list(activities),
        graceful_shutdown_timeout=GRACEFUL_SHUTDOWN,
        **options,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    with PROCESS_HEALTH.watching(worker):
        running = asyncio.create_task(worker.run())
        log.info("polling task queue %s", task_queue)
        waiter = asyncio.create_task(stop.wait())
        done, _ = await asyncio.wait({running, waiter}, return_when=asyncio.FIRST_COMPLETED)
        if running in done:
            waiter.cancel()
            running.result()  # the worker failed: let the error out (the launcher restarts us)
            return
        log.info("shutting down: finishing in-flight tasks")
        await worker.shutdown()
        await running
