"""The workflow worker: hosts BookingWorkflow and ReconcileWorkflow on the `booking`
task queue, and keeps the reconciler's schedule in line with the settings."""

from __future__ import annotations

import logging

from services.common.settings import Settings
from temporal.connect import connect
from temporal.names import TaskQueue
from temporal.worker import run_until_signalled
from workflows.booking import BookingWorkflow
from workflows.reconcile import ReconcileWorkflow
from workflows.schedules import ensure_reconciler_schedule
from workflows.settings import WorkflowWorkerSettings

log = logging.getLogger("staysaga.worker")

WORKFLOWS = [BookingWorkflow, ReconcileWorkflow]


async def main(settings: Settings) -> None:
    """Create or update the reconciler's schedule, then run the worker until signalled."""
    client = await connect(settings)
    try:
        await ensure_reconciler_schedule(client, settings)
    except Exception:
        # Bookings must not wait for the reconciler: the next start tries again.
        log.exception("could not create or update the reconciler's schedule")
    await run_until_signalled(
        client,
        TaskQueue.BOOKING,
        workflows=WORKFLOWS,
        max_cached_workflows=settings.of(WorkflowWorkerSettings).cached_workflows,
    )
