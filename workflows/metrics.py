"""The saga's business metrics: bookings started, confirmed, failed (by reason), expired
and cancelled, the time to confirmation, compensations run and the reconciler's repairs.

They are recorded from the workflows, through `workflow.metric_meter()`, rather than from
activities: only the workflow knows when a booking changes state, and that meter is
replay-safe (temporalio records nothing while a worker replays a history, so a booking
counts once however often it is replayed, and recording issues no command: every
committed history replays unchanged). They reach Prometheus on the booking worker's SDK
metrics port (WORKER_BOOKING_METRICS_PORT), each with the SDK's namespace, task queue and
workflow type labels; a failure's reason is the error type of the step that failed (a
short, fixed set: sold out, declined card...), never the traveller's text.

Deterministic code only: no I/O, imports passed through.
"""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from workflows.models import BookingState

# On the endpoint, counters end in `_total` and the histogram in `_seconds`.
COUNTED_STATES = {
    BookingState.STARTED: ("staysaga_bookings_started", "Bookings started"),
    BookingState.CONFIRMED: ("staysaga_bookings_confirmed", "Bookings confirmed (room held, paid)"),
    BookingState.FAILED: (
        "staysaga_bookings_failed",
        "Bookings failed, by the failing step's reason",
    ),
    BookingState.EXPIRED: ("staysaga_bookings_expired", "Bookings whose hold lapsed unpaid"),
    BookingState.CANCELLED: ("staysaga_bookings_cancelled", "Bookings cancelled or released"),
}
TIME_TO_CONFIRMED = "staysaga_booking_time_to_confirmed"
COMPENSATIONS = "staysaga_booking_compensations"
REPAIRS = "staysaga_reconciler_repairs"


def state_entered(state: BookingState, reason: str) -> None:
    """Count a booking entering `state` (`reason`: why it failed, for FAILED); on
    confirmation, also record how long it took since the workflow started."""
    meter = workflow.metric_meter()
    counted = COUNTED_STATES.get(state)
    if counted is not None:
        name, description = counted
        attributes = {"reason": reason or "unknown"} if state is BookingState.FAILED else {}
        meter.create_counter(name, description).add(1, attributes)
    if state is BookingState.CONFIRMED:
        meter.create_histogram_timedelta(
            TIME_TO_CONFIRMED, "From the booking's start to its confirmation", "duration"
        ).record(workflow.now() - workflow.info().start_time)


def compensated(step: str) -> None:
    """Count a compensation run (`step`: void or release)."""
    meter = workflow.metric_meter()
    meter.create_counter(COMPENSATIONS, "Compensations run, by step").add(1, {"step": step})


def repaired(kind: str) -> None:
    """Count a repair the reconciler made (`kind`: the suspect's kind)."""
    meter = workflow.metric_meter()
    meter.create_counter(REPAIRS, "Repairs the reconciler made, by kind").add(1, {"kind": kind})
