"""The reconciler: finds what bookings that gave up left behind, and undoes it.

Each run lists suspects from Payments (authorizations the bank may hold unrecorded,
payments authorized and never captured or voided) and Reservations (confirmed
reservations, holds the sweeper missed), asks Temporal what became of each suspect's
booking, and repairs only bookings that gave up: no workflow, a workflow closed without
a confirmed booking, or BookingStatus FAILED/EXPIRED. A booking in flight or confirmed is
left alone. A Temporal Schedule starts it (workflows/schedules.py).

Deterministic code only: no I/O, imports passed through.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from activities import models as act
    from temporal.names import TaskQueue
    from workflows import metrics
    from workflows.models import (
        RECONCILE_WORKFLOW_TYPE,
        KindCount,
        ReconcileInput,
        ReconcileSummary,
    )

STEP_TIMEOUT = timedelta(seconds=60)
HEARTBEAT_TIMEOUT = timedelta(seconds=20)
RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=20),
    maximum_attempts=5,
    non_retryable_error_types=[act.BAD_REQUEST],
)
PAYMENT_KINDS = (act.UNRECORDED_PAYMENT, act.UNCAPTURED_PAYMENT)


@workflow.defn(name=RECONCILE_WORKFLOW_TYPE)
class ReconcileWorkflow:
    """One reconciliation of Payments and Reservations against Temporal's bookings."""

    async def _run(self, name: str, data: object, queue: TaskQueue, result_type: type) -> object:
        return await workflow.execute_activity(
            name,
            data,
            task_queue=queue,
            start_to_close_timeout=STEP_TIMEOUT,
            heartbeat_timeout=HEARTBEAT_TIMEOUT,
            retry_policy=RETRY,
            result_type=result_type,
        )

    @workflow.run
    async def run(self, data: ReconcileInput) -> ReconcileSummary:
        """List suspects, ask Temporal about their bookings, repair those that gave up."""
        query = act.SuspectQuery(
            older_than_seconds=data.grace_seconds,
            within_seconds=max(data.window_seconds, data.grace_seconds + 1),
            limit=data.limit,
        )
        payments = await self._run(
            act.LIST_PAYMENT_SUSPECTS, query, TaskQueue.PAYMENTS, act.Suspects
        )
        reservations = await self._run(
            act.LIST_RESERVATION_SUSPECTS, query, TaskQueue.RESERVATIONS, act.Suspects
        )
        assert isinstance(payments, act.Suspects) and isinstance(reservations, act.Suspects)
        suspects = [*payments.items, *reservations.items]
        counts = {kind: KindCount(kind=kind) for kind in act.SUSPECT_KINDS}
        verdicts: dict[str, str] = {}
        booking_ids = sorted({s.booking_id for s in suspects})
        if booking_ids:
            outcomes = await self._run(
                act.BOOKING_OUTCOMES,
                act.BookingIds(booking_ids=booking_ids),
                TaskQueue.PAYMENTS,
                act.BookingOutcomes,
            )
            assert isinstance(outcomes, act.BookingOutcomes)
            verdicts = {o.booking_id: o.verdict for o in outcomes.items}
        repaired: set[str] = set()
        for suspect in suspects:
            count = counts.setdefault(suspect.kind, KindCount(kind=suspect.kind))
            count.found += 1
            if verdicts.get(suspect.booking_id) != act.GAVE_UP:
                count.left_alone += 1
                continue
            if suspect.kind in PAYMENT_KINDS:
                name, queue = act.REPAIR_PAYMENT, TaskQueue.PAYMENTS
            else:
                name, queue = act.REPAIR_RESERVATION, TaskQueue.RESERVATIONS
            try:
                done = await self._run(name, suspect, queue, act.Repaired)
            except ActivityError as error:
                count.failed += 1
                workflow.logger.warning(
                    "could not repair booking %s (%s): %s",
                    suspect.booking_id,
                    suspect.kind,
                    error.cause or error,
                )
                continue
            assert isinstance(done, act.Repaired)
            if done.changed:
                count.repaired += 1
                metrics.repaired(suspect.kind)
                repaired.add(suspect.booking_id)
        summary = ReconcileSummary(kinds=list(counts.values()), repaired_bookings=sorted(repaired))
        workflow.logger.info("reconciled: %s", "; ".join(summary.lines()))
        return summary
