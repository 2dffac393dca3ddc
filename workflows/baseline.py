"""A workflow shaped like a booking that does nothing: the benchmark's baseline.

Seven no-op activities, in the order of a booking's path to its e-mailed receipt, each on
a task queue of its own standing for the booking's (`bench-reservations` for
`reservations`, ...). The benchmark serves them with workers of its own
(staysaga/bench_workers.py); production workers serve none of this. What a booking costs
beyond this is the services' own work.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.models import NOOP, Done
    from temporal.names import TaskQueue

BASELINE_WORKFLOW_TYPE = "BaselineWorkflow"
BOOKING_SHAPE = (
    TaskQueue.RESERVATIONS,  # describe the hotel
    TaskQueue.RESERVATIONS,  # hold
    TaskQueue.PAYMENTS,  # authorize
    TaskQueue.RESERVATIONS,  # confirm
    TaskQueue.PAYMENTS,  # capture
    TaskQueue.DOCUMENTS,  # receipt
    TaskQueue.NOTIFICATIONS,  # e-mail
)

BENCH_QUEUE_PREFIX = "bench-"


def baseline_queue(queue: TaskQueue) -> str:
    """The benchmark's task queue standing for one of a booking's."""
    return f"{BENCH_QUEUE_PREFIX}{queue.value}"


@workflow.defn(name=BASELINE_WORKFLOW_TYPE)
class BaselineWorkflow:
    """Runs one no-op activity per step of a booking."""

    @workflow.run
    async def run(self, steps: int) -> int:
        """Run `steps` no-op activities (at most the booking's seven) in its order."""
        for queue in BOOKING_SHAPE[:steps]:
            await workflow.execute_activity(
                NOOP,
                Done(),
                result_type=Done,
                task_queue=baseline_queue(queue),
                start_to_close_timeout=timedelta(seconds=20),
            )
        return steps
