"""The workflow worker: hosts BookingWorkflow on the `booking` task queue."""

from __future__ import annotations

from services.common.settings import Settings
from temporal.client import connect
from temporal.names import TaskQueue
from temporal.worker import run_until_signalled
from workflows.baseline import BaselineWorkflow
from workflows.booking import BookingWorkflow

WORKFLOWS = [BookingWorkflow, BaselineWorkflow]


async def main(settings: Settings) -> None:
    """Run the workflow worker until signalled."""
    client = await connect(settings)
    await run_until_signalled(client, TaskQueue.BOOKING, workflows=WORKFLOWS)
