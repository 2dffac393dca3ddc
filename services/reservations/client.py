"""Reservations' one client: every caller of Reservations' routes goes through
`ReservationsClient`.

Each method sends the route's request model and returns the reply parsed as its response
model, with a service token for the route's scope (`services.common.http.ServiceConnection`
carries the token, the caller's deadline and the request id). A refusal is raised as
`ServiceError` with Reservations' problem document; no answer at all as `TransportError`.
"""

from __future__ import annotations

from typing import Any

import pydantic_core

from services.common.client import TypedClient
from services.reservations import api


class ReservationsClient(TypedClient):
    """Reservations' routes, one typed method each."""

    async def hold(self, request: api.HoldRequest) -> api.Hold:
        """Hold one room for every night of a stay (idempotent per booking id)."""
        reply = await self._send("POST", api.HOLDS_PATH, api.WRITE, request)
        return api.Hold.model_validate_json(reply)

    async def show_hold(self, hold_id: str) -> api.Hold:
        """A hold as it stands."""
        return api.Hold.model_validate_json(
            await self._send("GET", api.hold_path(hold_id), api.READ)
        )

    async def release(self, hold_id: str) -> api.Hold:
        """Give a hold's rooms back (idempotent); from a service, it also cancels the
        reservation a late confirm made."""
        reply = await self._send("POST", api.release_path(hold_id), api.WRITE)
        return api.Hold.model_validate_json(reply)

    async def confirm(self, hold_id: str) -> api.Reservation:
        """Turn a hold into a reservation (idempotent)."""
        reply = await self._send("POST", api.confirm_path(hold_id), api.WRITE)
        return api.Reservation.model_validate_json(reply)

    async def reservations(self, query: api.ReservationQuery) -> api.ReservationList:
        """Reservations, newest first (a service may filter by user)."""
        reply = await self._send("GET", api.RESERVATIONS_PATH, api.READ, query=query)
        return api.ReservationList.model_validate_json(reply)

    async def reservation(self, reservation_id: str) -> api.Reservation:
        """A reservation."""
        reply = await self._send("GET", api.reservation_path(reservation_id), api.READ)
        return api.Reservation.model_validate_json(reply)

    async def cancel(self, reservation_id: str) -> api.Reservation:
        """Cancel a reservation, its nights back to inventory (idempotent)."""
        reply = await self._send("POST", api.cancel_path(reservation_id), api.WRITE)
        return api.Reservation.model_validate_json(reply)

    async def availability(self, query: api.AvailabilityQuery) -> api.StayAvailability:
        """Rooms left and the stay's price per room type of one hotel, and its terms."""
        reply = await self._send("GET", api.AVAILABILITY_PATH, api.READ, query=query)
        return api.StayAvailability.model_validate_json(reply)

    async def batch_availability(
        self, request: api.BatchAvailabilityRequest
    ) -> api.BatchAvailability:
        """Rooms left and the stay's price per room type of many hotels."""
        reply = await self._send("POST", api.BATCH_AVAILABILITY_PATH, api.READ, request)
        return api.BatchAvailability.model_validate_json(reply)

    async def search_availability(
        self, request: api.AvailabilitySearches
    ) -> api.AvailabilitySearchResults:
        """Several searches' batch questions in one call, each answered on its own."""
        reply = await self._send("POST", api.AVAILABILITY_SEARCHES_PATH, api.READ, request)
        return api.AvailabilitySearchResults.model_validate_json(reply)

    async def search_availability_fields(
        self, searches: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        """`search_availability` for Search's hot path, as plain JSON fields both ways:
        each search a `BatchAvailabilityRequest`'s fields, each result a `SearchResult`'s.

        Search builds its questions and reads the answers as dicts. Parsing the answer
        into the models instead took three times as long here (16 searches of 50 hotels:
        0.85 ms as dicts, 2.5 ms as models, 3.6 ms with Search's dicts made from them),
        on the path every dated search takes.
        """
        reply = await self._send(
            "POST", api.AVAILABILITY_SEARCHES_PATH, api.READ, {"searches": searches}
        )
        results: list[dict[str, Any]] = pydantic_core.from_json(reply)["results"]
        return results

    async def update_inventory(
        self, room_type_id: int, update: api.InventoryUpdate
    ) -> api.Inventory:
        """Change a room type's total rooms, rate or currency."""
        body = update.model_dump(mode="json", exclude_none=True)
        reply = await self._send("PUT", api.inventory_path(room_type_id), api.ADMIN, body)
        return api.Inventory.model_validate_json(reply)

    async def suspects(self, query: api.SuspectQuery) -> api.ReservationSuspects:
        """Confirmed reservations and lapsed holds whose bookings need a check, oldest
        first."""
        reply = await self._send("GET", api.SUSPECTS_PATH, api.RECONCILE, query=query)
        return api.ReservationSuspects.model_validate_json(reply)
