"""A booking started inside a trace: the workflow and its activities continue that trace,
and the booking's status names it for operators."""

from __future__ import annotations

from types import SimpleNamespace

from temporalio.client import Client

from services.common import tracing
from temporal.connect import interceptors
from tests.support.harness import eventually
from tests.support.tracing import traced_in_memory
from tests.workflows.standins import World
from tests.workflows.test_booking import awaiting_payment, bookings, pay, status
from workflows.models import BookingState, trace_id_of


async def test_a_booking_started_in_a_trace_runs_its_workflow_and_activities_in_it(
    workflow_env,
):
    with traced_in_memory("website") as spans:
        traced = Client(**{**workflow_env.client.config(), "interceptors": interceptors()})
        async with bookings(SimpleNamespace(client=traced), World()) as running:
            with tracing.active_tracer().start_as_current_span("POST /book") as request_span:
                handle = await running.start()
            trace_id = f"{request_span.get_span_context().trace_id:032x}"
            view = await awaiting_payment(handle)
            # The checkout is a request (and a trace) of its own; the saga's steps after it
            # stay in the booking's trace.
            with tracing.active_tracer().start_as_current_span("POST /checkout") as checkout:
                await pay(handle)

            async def confirmed() -> None:
                assert (await status(handle)).state == BookingState.CONFIRMED

            await eventually(confirmed, timeout=30)
        found = spans.trace(trace_id)
        paid = spans.trace(f"{checkout.get_span_context().trace_id:032x}")

    assert view.trace_id == trace_id
    (run,) = [s for s in found.spans.values() if s.name == "RunWorkflow:BookingWorkflow"]
    (hold,) = [s for s in found.spans.values() if s.name == "RunActivity:hold_room"]
    # The interceptor's workflow spans hang under the start (they end at once: a workflow
    # task is short); the activity's under the workflow's scheduling of it.
    assert [s.name for s in found.ancestors(run)] == ["StartWorkflow:BookingWorkflow", "POST /book"]
    assert [s.name for s in found.ancestors(hold)] == [
        "StartActivity:hold_room",
        "StartWorkflow:BookingWorkflow",
        "POST /book",
    ]
    for later in ("authorize_payment", "capture_payment", "confirm_reservation"):
        assert found.named(None, f"RunActivity:{later}"), later
    assert paid.named(None, "StartWorkflowUpdate:submit_payment")
    assert not paid.named(None, "RunActivity:")


async def test_a_booking_started_without_tracing_names_no_trace(workflow_env):
    async with bookings(workflow_env, World()) as running:
        view = await awaiting_payment(await running.start())
    assert view.trace_id is None


def test_only_a_well_formed_traceparent_names_a_trace():
    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    assert trace_id_of(f"00-{trace_id}-00f067aa0ba902b7-01") == trace_id
    assert trace_id_of(f"00-{trace_id.upper()}-00f067aa0ba902b7-01") == trace_id
    for bad in (None, 7, "", "00-abc-00f067aa0ba902b7-01", f"00-{'0' * 32}-00f067aa0ba902b7-01"):
        assert trace_id_of(bad) is None
    assert trace_id_of(f"00-{'z' * 32}-00f067aa0ba902b7-01") is None
