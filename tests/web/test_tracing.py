"""The website's part of a booking's trace: the workflow it starts names the trace in the
details the Temporal UI shows operators."""

from __future__ import annotations

from datetime import date
from typing import Any

from services.common import tracing
from tests.support.tracing import traced_in_memory
from web import bookings
from workflows.models import BookingRequest

REQUEST = BookingRequest(
    booking_id="b1",
    user_id="user-1",
    hotel_id=7,
    room_type_id=21,
    check_in=date(2027, 3, 1),
    check_out=date(2027, 3, 3),
    guests=2,
    guest_name="Ada Lovelace",
)


class _Starts:
    def __init__(self) -> None:
        self.options: dict[str, Any] = {}

    async def start_workflow(self, *args: Any, **options: Any) -> None:
        self.options = options


async def test_a_booking_started_in_a_trace_names_it_in_its_temporal_details():
    client = _Starts()
    with (
        traced_in_memory("web"),
        tracing.active_tracer().start_as_current_span("POST /book") as span,
    ):
        await bookings.start(client, REQUEST)
    trace_id = f"{span.get_span_context().trace_id:032x}"
    details = client.options["static_details"]
    assert details.startswith(REQUEST.details())
    assert details.endswith(f"**Trace** `{trace_id}`")


async def test_without_tracing_the_details_name_no_trace():
    client = _Starts()
    await bookings.start(client, REQUEST)
    assert client.options["static_details"] == REQUEST.details()
