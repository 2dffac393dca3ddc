"""Temporal Schedules of staysaga: the reconciler's, created or updated idempotently."""

from __future__ import annotations

import logging
from datetime import timedelta

from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleHandle,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
    ScheduleUpdate,
    ScheduleUpdateInput,
)

from services.common.settings import Settings
from temporal.names import TaskQueue
from workflows.models import RECONCILE_WORKFLOW_TYPE, ReconcileInput
from workflows.settings import ReconcileSettings

log = logging.getLogger("staysaga.schedules")

RECONCILER_SCHEDULE_ID = "staysaga-reconciler"
RECONCILER_WORKFLOW_ID = "staysaga-reconcile"
"""Each run's workflow id is this, suffixed by the schedule with the run's time."""
RECONCILE_TIMEOUT = timedelta(minutes=10)


def reconciler_schedule(settings: Settings) -> Schedule:
    """The reconciler's schedule: every RECONCILE_EVERY_SECONDS, never two runs at once."""
    return Schedule(
        action=ScheduleActionStartWorkflow(
            RECONCILE_WORKFLOW_TYPE,
            ReconcileInput(grace_seconds=settings.of(ReconcileSettings).grace_seconds),
            id=RECONCILER_WORKFLOW_ID,
            task_queue=TaskQueue.BOOKING,
            execution_timeout=RECONCILE_TIMEOUT,
        ),
        spec=ScheduleSpec(
            intervals=[
                ScheduleIntervalSpec(
                    every=timedelta(seconds=settings.of(ReconcileSettings).every_seconds)
                )
            ]
        ),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP),
    )


async def ensure_reconciler_schedule(client: Client, settings: Settings) -> ScheduleHandle:
    """Create the reconciler's schedule, or update the existing one to the settings."""
    schedule = reconciler_schedule(settings)
    try:
        handle = await client.create_schedule(RECONCILER_SCHEDULE_ID, schedule)
        log.info("created schedule %s", RECONCILER_SCHEDULE_ID)
        return handle
    except ScheduleAlreadyRunningError:
        pass
    handle = client.get_schedule_handle(RECONCILER_SCHEDULE_ID)

    def replace(_: ScheduleUpdateInput) -> ScheduleUpdate:
        return ScheduleUpdate(schedule=schedule)

    await handle.update(replace)
    log.info("updated schedule %s", RECONCILER_SCHEDULE_ID)
    return handle
