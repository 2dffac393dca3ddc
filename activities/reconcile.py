"""Activities of the reconciler: list what bookings may have left behind, ask Temporal
whether each booking gave up, and undo what a booking that gave up left.

The listing and repairs call Payments and Reservations with the worker's service token
(`payments:reconcile`, `reservations:reconcile`, `reservations:write`); every repair is
idempotent and logged on one line with its booking and kind.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from temporalio import activity
from temporalio.client import WorkflowExecutionStatus
from temporalio.service import RPCError, RPCStatusCode

from activities import models as act
from activities.calls import run
from services.common.http import ServiceConnections
from services.payments import api as payments_api
from services.payments.client import PaymentsClient
from services.reservations import api as reservations_api
from services.reservations.client import ReservationsClient
from temporal.names import BOOKING_STATUS, booking_workflow_id
from workflows.models import BookingState

log = logging.getLogger("staysaga.reconciler")

# BookingStatus values by what they say of the booking.
SETTLED_STATES = frozenset({BookingState.CONFIRMED, BookingState.CANCELLED, BookingState.COMPLETED})
GAVE_UP_STATES = frozenset({BookingState.FAILED, BookingState.EXPIRED})

_PAYMENT_KINDS = {
    payments_api.SUSPECT_UNRECORDED: act.UNRECORDED_PAYMENT,
    payments_api.SUSPECT_UNCAPTURED: act.UNCAPTURED_PAYMENT,
}
_RESERVATION_KINDS = {
    reservations_api.SUSPECT_CONFIRMED: act.CONFIRMED_RESERVATION,
    reservations_api.SUSPECT_LAPSED: act.LAPSED_HOLD,
}


def verdict(status: WorkflowExecutionStatus | None, booking_status: str | None) -> tuple[str, str]:
    """Whether a booking gave up, from its workflow's status and BookingStatus (None: no
    workflow). A confirmed booking is never taken for one that gave up."""
    if status is None:
        return act.GAVE_UP, "no booking workflow"
    if booking_status in SETTLED_STATES:
        return act.CONFIRMED, f"booking {booking_status}"
    if booking_status in GAVE_UP_STATES:
        return act.GAVE_UP, f"booking {booking_status}"
    if status == WorkflowExecutionStatus.RUNNING:
        return act.IN_FLIGHT, f"running, booking {booking_status or 'without a status'}"
    return act.GAVE_UP, f"workflow {status.name.lower()}, booking {booking_status or 'unknown'}"


def _repaired(booking_id: str, kind: str, changed: bool, what: str) -> act.Repaired:
    if changed:
        log.info(
            "reconciler repaired booking %s: %s (%s)",
            booking_id,
            kind,
            what,
            extra={"booking_id": booking_id, "kind": kind},
        )
    return act.Repaired(booking_id=booking_id, kind=kind, changed=changed)


class PaymentReconcileActivities:
    """The reconciler's activities on the `payments` queue, and its questions to Temporal
    (through the worker's own client)."""

    def __init__(self, connections: ServiceConnections) -> None:
        self.payments = PaymentsClient(connections["payments"])

    @activity.defn(name=act.LIST_PAYMENT_SUSPECTS)
    async def list_payment_suspects(self, data: act.SuspectQuery) -> act.Suspects:
        """Payments that may hold money nobody will capture."""
        # Unvalidated here: Payments judges the window, and its 4xx is the answer.
        query = payments_api.SuspectQuery.model_construct(
            older_than=data.older_than_seconds, within=data.within_seconds, limit=data.limit
        )
        found = await run(self.payments.suspects(query), "payments")
        return act.Suspects(
            items=[
                act.Suspect(booking_id=item.booking_id, kind=_PAYMENT_KINDS[item.kind])
                for item in found.items
            ]
        )

    @activity.defn(name=act.REPAIR_PAYMENT)
    async def repair_payment(self, data: act.Suspect) -> act.Repaired:
        """Void what the booking left authorized, at the bank too, and record it."""
        voided = (await run(self.payments.repair(data.booking_id), "payments")).voided
        what = "voided bank authorization " + ", ".join(voided) if voided else "nothing open"
        return _repaired(data.booking_id, data.kind, bool(voided), what)

    @activity.defn(name=act.BOOKING_OUTCOMES)
    async def booking_outcomes(self, data: act.BookingIds) -> act.BookingOutcomes:
        """What Temporal says of each booking: gave up, in flight, or confirmed."""
        client = activity.client()
        items = []
        for booking_id in data.booking_ids:
            activity.heartbeat(booking_id)
            handle = client.get_workflow_handle(booking_workflow_id(booking_id))
            try:
                described = await handle.describe()
            except RPCError as error:
                if error.status != RPCStatusCode.NOT_FOUND:
                    raise
                found, why = verdict(None, None)
            else:
                state = described.typed_search_attributes.get(BOOKING_STATUS)
                found, why = verdict(described.status, state)
            items.append(act.BookingOutcome(booking_id=booking_id, verdict=found, why=why))
        return act.BookingOutcomes(items=items)

    def all(self) -> list[Callable[..., Any]]:
        """Every reconciler activity of this queue."""
        return [self.list_payment_suspects, self.repair_payment, self.booking_outcomes]


class ReservationReconcileActivities:
    """The reconciler's activities on the `reservations` queue."""

    def __init__(self, connections: ServiceConnections) -> None:
        self.reservations = ReservationsClient(connections["reservations"])

    @activity.defn(name=act.LIST_RESERVATION_SUSPECTS)
    async def list_reservation_suspects(self, data: act.SuspectQuery) -> act.Suspects:
        """Confirmed reservations and lapsed holds whose bookings need a check."""
        # Unvalidated here: Reservations judges the window, and its 4xx is the answer.
        query = reservations_api.SuspectQuery.model_construct(
            older_than=data.older_than_seconds, within=data.within_seconds, limit=data.limit
        )
        found = await run(self.reservations.suspects(query), "reservations")
        return act.Suspects(
            items=[
                act.Suspect(
                    booking_id=item.booking_id,
                    kind=_RESERVATION_KINDS[item.kind],
                    hold_id=item.hold_id,
                )
                for item in found.items
            ]
        )

    @activity.defn(name=act.REPAIR_RESERVATION)
    async def repair_reservation(self, data: act.Suspect) -> act.Repaired:
        """Release the booking's hold: the rooms go back, a reservation is cancelled."""
        assert data.hold_id, "a reservation suspect names its hold"
        before = await run(self.reservations.show_hold(data.hold_id), "reservations")
        kept = before.status in (reservations_api.HOLD_HELD, reservations_api.HOLD_CONFIRMED)
        await run(self.reservations.release(data.hold_id), "reservations")
        what = f"released hold {data.hold_id}" if kept else "nothing kept"
        return _repaired(data.booking_id, data.kind, kept, what)

    def all(self) -> list[Callable[..., Any]]:
        """Every reconciler activity of this queue."""
        return [self.list_reservation_suspects, self.repair_reservation]
