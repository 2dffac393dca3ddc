"""A worker's Prometheus endpoint: the SDK's own metrics and the saga's business metrics."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from temporalio import workflow
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities import models as act
from temporal.connect import ensure_search_attributes
from temporal.devserver import temporal_test_server
from temporal.metrics import prometheus_runtime
from temporal.names import TaskQueue
from tests.conftest import DATA_CONVERTER
from tests.support.harness import eventually, free_port
from tests.workflows.standins import World
from tests.workflows.test_booking import awaiting_payment, bookings, pay, unpaid_to_the_end
from tests.workflows.test_reconcile import Ledger, reconciler
from workflows.models import (
    UPDATE_CANCEL,
    BookingState,
    CancellationQuote,
    CancelRequest,
    ReconcileInput,
    ReconcileSummary,
)
from workflows.reconcile import ReconcileWorkflow

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


@pytest.fixture
async def measured_env() -> AsyncIterator[tuple[WorkflowEnvironment, int]]:
    """A time-skipping server whose client (and so its workers) serves metrics on a port."""
    port = free_port()
    env = await WorkflowEnvironment.start_time_skipping(
        data_converter=DATA_CONVERTER,
        test_server_existing_path=str(temporal_test_server()),
        runtime=prometheus_runtime("127.0.0.1", port),
    )
    try:
        await ensure_search_attributes(env.client)
        yield env, port
    finally:
        await env.shutdown()


async def scrape(port: int) -> Samples:
    async with httpx.AsyncClient(timeout=5.0) as http:
        response = await http.get(f"http://127.0.0.1:{port}/metrics")
    assert response.status_code == 200
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def total(samples: Samples, name: str, **labels: str) -> float:
    """The sum of a metric's samples whose labels include `labels`."""
    return sum(
        value
        for (found, sample_labels), value in samples.items()
        if found == name and set(labels.items()) <= set(sample_labels)
    )


async def test_a_failed_booking_shows_on_the_workers_metrics_endpoint(measured_env):
    env, port = measured_env
    # The hold lapses at confirmation: the payment is voided, the room released, FAILED.
    world = World(confirm_error=act.HOLD_EXPIRED)
    async with bookings(env, world) as running:
        handle = await running.start()
        await awaiting_payment(handle)
        view = await pay(handle)
        await handle.result()
        samples = await scrape(port)

    assert view.state == BookingState.FAILED
    # The SDK's own: the booking's workflow tasks, its activities' failed attempt.
    assert total(samples, "temporal_workflow_completed_total", workflow_type="BookingWorkflow")
    failed = "temporal_activity_execution_failed_total"
    assert total(samples, failed, activity_type=act.CONFIRM_RESERVATION) >= 1
    # The saga's: one started, one failed as the hold lapsed, void and release run.
    assert total(samples, "staysaga_bookings_started_total") == 1
    assert total(samples, "staysaga_bookings_failed_total", reason=act.HOLD_EXPIRED) == 1
    assert total(samples, "staysaga_bookings_confirmed_total") == 0
    assert total(samples, "staysaga_booking_compensations_total", step="void") == 1
    assert total(samples, "staysaga_booking_compensations_total", step="release") == 1


async def test_a_confirmed_booking_counts_once_with_its_time_to_confirm(measured_env):
    env, port = measured_env
    async with bookings(env, World()) as running:
        handle = await running.start()
        await awaiting_payment(handle)
        view = await pay(handle)

        async def counted() -> Samples:
            samples = await scrape(port)
            assert total(samples, "staysaga_booking_time_to_confirmed_seconds_count") == 1
            return samples

        samples = await eventually(counted)

    assert view.state == BookingState.CONFIRMED
    assert total(samples, "staysaga_bookings_started_total") == 1
    assert total(samples, "staysaga_bookings_confirmed_total") == 1
    assert total(samples, "staysaga_bookings_failed_total") == 0
    assert total(samples, "staysaga_booking_compensations_total") == 0


@workflow.defn(name="AlwaysBrokenWorkflow", sandboxed=False)
class AlwaysBrokenWorkflow:
    """Fails every workflow task, as code that no longer matches its history does."""

    @workflow.run
    async def run(self) -> None:
        raise RuntimeError("this task cannot complete")


async def test_a_workflow_task_failing_again_and_again_is_counted_with_its_type(measured_env):
    # What the BookingWorkflowTaskFailing alert watches (ops/prometheus/alerts.yml).
    env, port = measured_env
    queue = f"broken-{uuid.uuid4().hex}"
    async with Worker(env.client, task_queue=queue, workflows=[AlwaysBrokenWorkflow]):
        handle = await env.client.start_workflow(
            AlwaysBrokenWorkflow.run, id=f"broken-{uuid.uuid4().hex}", task_queue=queue
        )

        async def failed_twice() -> Samples:
            samples = await scrape(port)
            failed = total(
                samples,
                "temporal_workflow_task_execution_failed_total",
                workflow_type="AlwaysBrokenWorkflow",
            )
            assert failed >= 2, failed
            return samples

        samples = await eventually(failed_twice)
        await handle.terminate("test over")

    labels = {
        key
        for (name, sample_labels) in samples
        if name == "temporal_workflow_task_execution_failed_total"
        for key, _ in sample_labels
    }
    assert {"workflow_type", "failure_reason", "task_queue"} <= labels


async def test_an_unpaid_booking_counts_as_expired_with_its_release(measured_env):
    env, port = measured_env
    view = await unpaid_to_the_end(env, World(hold_ttl=timedelta(minutes=15)))
    samples = await scrape(port)

    assert view.state == BookingState.EXPIRED
    assert total(samples, "staysaga_bookings_expired_total") == 1
    assert total(samples, "staysaga_bookings_failed_total") == 0
    assert total(samples, "staysaga_booking_compensations_total", step="release") == 1
    assert total(samples, "staysaga_booking_compensations_total", step="void") == 0


async def test_a_released_booking_counts_as_cancelled(measured_env):
    env, port = measured_env
    async with bookings(env, World()) as running:
        handle = await running.start()
        await awaiting_payment(handle)
        await handle.execute_update(
            UPDATE_CANCEL, CancelRequest(reason="changed my mind"), result_type=CancellationQuote
        )
        view = await handle.result()
    samples = await scrape(port)

    assert view.state == BookingState.CANCELLED
    assert total(samples, "staysaga_bookings_cancelled_total") == 1
    assert total(samples, "staysaga_bookings_expired_total") == 0


async def test_the_reconcilers_repairs_are_counted_by_kind(measured_env):
    env, port = measured_env
    ledger = Ledger(
        payments=[act.Suspect(booking_id="gone", kind=act.UNRECORDED_PAYMENT)],
        reservations=[act.Suspect(booking_id="gone", kind=act.LAPSED_HOLD, hold_id="h-1")],
        verdicts={"gone": act.GAVE_UP},
    )
    async with reconciler(env, ledger) as client:
        await client.execute_workflow(
            ReconcileWorkflow.run,
            ReconcileInput(),
            id=f"reconcile-{uuid.uuid4().hex[:8]}",
            task_queue=TaskQueue.BOOKING,
            result_type=ReconcileSummary,
        )
    samples = await scrape(port)

    repairs = "staysaga_reconciler_repairs_total"
    assert total(samples, repairs, kind=act.UNRECORDED_PAYMENT) == 1
    assert total(samples, repairs, kind=act.LAPSED_HOLD) == 1
    assert total(samples, repairs) == 2
