"""Activities of the `reservations` task queue: holds and reservations."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities import models as act
from activities.calls import run
from services.common.http import ServiceConnections
from services.reservations import api
from services.reservations.client import ReservationsClient


class ReservationActivities:
    """Calls the Reservations service."""

    def __init__(self, connections: ServiceConnections) -> None:
        self.reservations = ReservationsClient(connections["reservations"])

    @activity.defn(name=act.HOLD_ROOM)
    async def hold_room(self, data: act.HoldInput) -> act.Hold:
        """Hold a room for the stay (idempotent on the booking id)."""
        hold = await run(self.reservations.hold(data), "reservations")
        if hold.status in (api.HOLD_EXPIRED, api.HOLD_RELEASED):
            # A retry found the hold this booking placed earlier, already lapsed.
            raise ApplicationError(
                "Your hold on the room expired.", type=act.HOLD_EXPIRED, non_retryable=True
            )
        return act.Hold(
            hold_id=hold.hold_id,
            expires_at=hold.expires_at,
            nights=hold.nights,
            total=hold.total,
            currency=hold.currency,
            terms=hold.terms,
        )

    @activity.defn(name=act.RELEASE_HOLD)
    async def release_hold(self, data: act.HoldRef) -> act.Done:
        """Give the held nights back (idempotent)."""
        await run(self.reservations.release(data.hold_id), "reservations")
        return act.Done()

    @activity.defn(name=act.CONFIRM_RESERVATION)
    async def confirm_reservation(self, data: act.HoldRef) -> act.Reservation:
        """Turn the hold into a reservation (idempotent)."""
        reservation = await run(self.reservations.confirm(data.hold_id), "reservations")
        return act.Reservation(
            reservation_id=reservation.reservation_id,
            confirmation_code=reservation.confirmation_code,
        )

    @activity.defn(name=act.CANCEL_RESERVATION)
    async def cancel_reservation(self, data: act.ReservationRef) -> act.Done:
        """Cancel a reservation, its nights back to inventory (idempotent)."""
        await run(self.reservations.cancel(data.reservation_id), "reservations")
        return act.Done()

    def all(self) -> list[Callable[..., Any]]:
        """Every activity of this queue."""
        return [
            self.hold_room,
            self.release_hold,
            self.confirm_reservation,
            self.cancel_reservation,
        ]
