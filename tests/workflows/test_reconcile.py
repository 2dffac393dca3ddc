"""The reconciler's workflow with stand-in activities, its Temporal verdicts on the dev
server, and its schedule."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta

import pytest
from temporalio import activity
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.common import SearchAttributePair, TypedSearchAttributes
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment, WorkflowEnvironment
from temporalio.worker import Worker

from activities import models as act
from activities.reconcile import PaymentReconcileActivities, verdict
from components.settings import load_settings
from services.common.http import ServiceConnections
from temporal.names import BOOKING_STATUS, TaskQueue, booking_workflow_id
from workflows.models import ReconcileInput, ReconcileSummary
from workflows.reconcile import ReconcileWorkflow
from workflows.schedules import RECONCILER_SCHEDULE_ID, ensure_reconciler_schedule


@dataclass
class Ledger:
    """What the stand-in services list, what Temporal says, and what got repaired."""

    payments: list[act.Suspect]
    reservations: list[act.Suspect]
    verdicts: dict[str, str]
    refuse: set[str] = field(default_factory=set)  # bookings whose repair is refused
    repairs: list[tuple[str, str]] = field(default_factory=list)
    asked: list[str] = field(default_factory=list)

    def activities(self) -> list:
        """Stand-ins under the real names."""
        ledger = self

        @activity.defn(name=act.LIST_PAYMENT_SUSPECTS)
        async def list_payment_suspects(data: act.SuspectQuery) -> act.Suspects:
            assert data.older_than_seconds == 600 and data.within_seconds > 600
            return act.Suspects(items=ledger.payments)

        @activity.defn(name=act.LIST_RESERVATION_SUSPECTS)
        async def list_reservation_suspects(data: act.SuspectQuery) -> act.Suspects:
            return act.Suspects(items=ledger.reservations)

        @activity.defn(name=act.BOOKING_OUTCOMES)
        async def booking_outcomes(data: act.BookingIds) -> act.BookingOutcomes:
            ledger.asked += data.booking_ids
            return act.BookingOutcomes(
                items=[
                    act.BookingOutcome(booking_id=b, verdict=ledger.verdicts[b], why="test")
                    for b in data.booking_ids
                ]
            )

        async def repair(data: act.Suspect) -> act.Repaired:
            if data.booking_id in ledger.refuse:
                raise ApplicationError("captured", type=act.BAD_REQUEST, non_retryable=True)
            ledger.repairs.append((data.booking_id, data.kind))
            return act.Repaired(booking_id=data.booking_id, kind=data.kind, changed=True)

        @activity.defn(name=act.REPAIR_PAYMENT)
        async def repair_payment(data: act.Suspect) -> act.Repaired:
            assert data.kind in (act.UNRECORDED_PAYMENT, act.UNCAPTURED_PAYMENT)
            return await repair(data)

        @activity.defn(name=act.REPAIR_RESERVATION)
        async def repair_reservation(data: act.Suspect) -> act.Repaired:
            assert data.hold_id
            return await repair(data)

        return [
            list_payment_suspects,
            list_reservation_suspects,
            booking_outcomes,
            repair_payment,
            repair_reservation,
        ]


@contextlib.asynccontextmanager
async def reconciler(env: WorkflowEnvironment, ledger: Ledger) -> AsyncIterator[Client]:
    """The reconciler's workflow worker and stand-in activity workers."""
    standins = ledger.activities()
    async with contextlib.AsyncExitStack() as stack:
        await stack.enter_async_context(
            Worker(env.client, task_queue=TaskQueue.BOOKING, workflows=[ReconcileWorkflow])
        )
        for queue in (TaskQueue.PAYMENTS, TaskQueue.RESERVATIONS):
            await stack.enter_async_context(
                Worker(env.client, task_queue=queue, activities=standins)
            )
        yield env.client


def _suspect(booking_id: str, kind: str, hold_id: str | None = None) -> act.Suspect:
    return act.Suspect(booking_id=booking_id, kind=kind, hold_id=hold_id)


async def test_repairs_bookings_that_gave_up_and_leaves_the_others_alone(time_skipping_env):
    ledger = Ledger(
        payments=[
            _suspect("failed", act.UNRECORDED_PAYMENT),
            _suspect("in-flight", act.UNRECORDED_PAYMENT),
            _suspect("confirmed", act.UNCAPTURED_PAYMENT),
            _suspect("captured", act.UNCAPTURED_PAYMENT),
        ],
        reservations=[
            _suspect("failed", act.CONFIRMED_RESERVATION, "h-1"),
            _suspect("confirmed", act.CONFIRMED_RESERVATION, "h-2"),
            _suspect("terminated", act.LAPSED_HOLD, "h-3"),
        ],
        verdicts={
            "failed": act.GAVE_UP,
            "in-flight": act.IN_FLIGHT,
            "confirmed": act.CONFIRMED,
            "captured": act.GAVE_UP,
            "terminated": act.GAVE_UP,
        },
        refuse={"captured"},
    )
    async with reconciler(time_skipping_env, ledger) as client:
        summary = await client.execute_workflow(
            ReconcileWorkflow.run,
            ReconcileInput(),
            id=f"reconcile-{uuid.uuid4().hex[:8]}",
            task_queue=TaskQueue.BOOKING,
            result_type=ReconcileSummary,
        )
    assert sorted(ledger.asked) == ["captured", "confirmed", "failed", "in-flight", "terminated"]
    assert sorted(ledger.repairs) == [
        ("failed", act.CONFIRMED_RESERVATION),
        ("failed", act.UNRECORDED_PAYMENT),
        ("terminated", act.LAPSED_HOLD),
    ]
    counts = {k.kind: (k.found, k.repaired, k.left_alone, k.failed) for k in summary.kinds}
    assert counts == {
        act.UNRECORDED_PAYMENT: (2, 1, 1, 0),
        act.UNCAPTURED_PAYMENT: (2, 0, 1, 1),
        act.CONFIRMED_RESERVATION: (2, 1, 1, 0),
        act.LAPSED_HOLD: (1, 1, 0, 0),
    }
    assert summary.repaired_bookings == ["failed", "terminated"]
    assert len(summary.lines()) == 4


async def test_with_nothing_suspect_temporal_is_not_asked(time_skipping_env):
    ledger = Ledger(payments=[], reservations=[], verdicts={})
    async with reconciler(time_skipping_env, ledger) as client:
        summary = await client.execute_workflow(
            ReconcileWorkflow.run,
            ReconcileInput(),
            id=f"reconcile-{uuid.uuid4().hex[:8]}",
            task_queue=TaskQueue.BOOKING,
            result_type=ReconcileSummary,
        )
    assert ledger.asked == [] and ledger.repairs == []
    assert all(k.found == 0 for k in summary.kinds)


@pytest.mark.parametrize(
    ("status", "booking_status", "expected"),
    [
        (None, None, act.GAVE_UP),
        (WorkflowExecutionStatus.RUNNING, "STARTED", act.IN_FLIGHT),
        (WorkflowExecutionStatus.RUNNING, "AWAITING_PAYMENT", act.IN_FLIGHT),
        (WorkflowExecutionStatus.RUNNING, "PROCESSING_PAYMENT", act.IN_FLIGHT),
        (WorkflowExecutionStatus.RUNNING, None, act.IN_FLIGHT),
        (WorkflowExecutionStatus.RUNNING, "FAILED", act.GAVE_UP),
        (WorkflowExecutionStatus.RUNNING, "EXPIRED", act.GAVE_UP),
        (WorkflowExecutionStatus.RUNNING, "CONFIRMED", act.CONFIRMED),
        (WorkflowExecutionStatus.COMPLETED, "FAILED", act.GAVE_UP),
        (WorkflowExecutionStatus.COMPLETED, "COMPLETED", act.CONFIRMED),
        (WorkflowExecutionStatus.COMPLETED, "CANCELLED", act.CONFIRMED),
        (WorkflowExecutionStatus.TERMINATED, "CONFIRMED", act.CONFIRMED),
        (WorkflowExecutionStatus.TERMINATED, "PROCESSING_PAYMENT", act.GAVE_UP),
        (WorkflowExecutionStatus.TIMED_OUT, None, act.GAVE_UP),
    ],
)
def test_the_verdict_never_takes_a_confirmed_booking_for_one_that_gave_up(
    status, booking_status, expected
):
    assert verdict(status, booking_status)[0] == expected


async def _booking(client: Client, booking_id: str, state: str, *, end: bool = False) -> None:
    """A booking workflow nobody runs, with its BookingStatus; terminated if `end`."""
    handle = await client.start_workflow(
        "BookingWorkflow",
        id=booking_workflow_id(booking_id),
        task_queue=f"nobody-{uuid.uuid4().hex[:8]}",
        search_attributes=TypedSearchAttributes([SearchAttributePair(BOOKING_STATUS, state)]),
        execution_timeout=timedelta(minutes=5),
    )
    if end:
        await handle.terminate("test")


@pytest.mark.devserver
async def test_booking_outcomes_ask_temporal(dev_server_env):
    client = dev_server_env.client
    tag = uuid.uuid4().hex[:8]
    await _booking(client, f"{tag}-failed", "FAILED")
    await _booking(client, f"{tag}-paying", "PROCESSING_PAYMENT")
    await _booking(client, f"{tag}-confirmed", "CONFIRMED", end=True)
    await _booking(client, f"{tag}-killed", "AWAITING_PAYMENT", end=True)
    names = ["failed", "paying", "confirmed", "killed", "never-started"]
    activities = PaymentReconcileActivities(ServiceConnections(load_settings({})))
    found = await ActivityEnvironment(client=client).run(
        activities.booking_outcomes, act.BookingIds(booking_ids=[f"{tag}-{n}" for n in names])
    )
    assert [o.verdict for o in found.items] == [
        act.GAVE_UP,
        act.IN_FLIGHT,
        act.CONFIRMED,
        act.GAVE_UP,
        act.GAVE_UP,
    ]


@pytest.mark.devserver
async def test_the_schedule_is_created_once_and_updated_after(dev_server_env):
    client = dev_server_env.client
    first = await ensure_reconciler_schedule(client, load_settings({}))
    try:
        described = await first.describe()
        [interval] = described.schedule.spec.intervals
        assert interval.every == timedelta(seconds=300)
        assert described.schedule.policy.overlap.name == "SKIP"
        faster = load_settings({"RECONCILE_EVERY_SECONDS": "60", "RECONCILE_GRACE_SECONDS": "30"})
        await ensure_reconciler_schedule(client, faster)
        [interval] = (await first.describe()).schedule.spec.intervals
        assert interval.every == timedelta(seconds=60)
        listed = [s.id async for s in await client.list_schedules()]
        assert listed.count(RECONCILER_SCHEDULE_ID) <= 1  # visibility may lag, never doubles
    finally:
        await first.delete()
