"""Activities that read the Search catalogue (served by the `reservations` task queue's
worker, where the saga has always scheduled them)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities import models as act
from activities.calls import run
from services.common.http import ServiceConnections, ServiceError
from services.search import api
from services.search.client import SearchClient


class CatalogueActivities:
    """Calls the Search service's public catalogue."""

    def __init__(self, connections: ServiceConnections) -> None:
        self.search = SearchClient(connections["search"])

    async def _hotel(self, hotel_id: int) -> api.Hotel | None:
        try:
            return await self.search.hotel(hotel_id)
        except ServiceError as error:
            if error.status == 404:
                return None
            raise

    @activity.defn(name=act.DESCRIBE_HOTEL)
    async def describe_hotel(self, data: act.HotelRef) -> act.HotelInfo:
        """The hotel and room type from Search's public catalogue."""
        # Anything but a 404 may pass, so it is retried.
        hotel = await run(self._hotel(data.hotel_id), "search")
        if hotel is None:
            raise ApplicationError(
                "That hotel is not in our catalogue.", type=act.BAD_REQUEST, non_retryable=True
            )
        room = next((r for r in hotel.room_types if r.id == data.room_type_id), None)
        if room is None:
            raise ApplicationError(
                "That hotel has no such room type.", type=act.BAD_REQUEST, non_retryable=True
            )
        return act.HotelInfo(
            hotel_name=hotel.name,
            hotel_address=hotel.address,
            room_type_name=room.name,
            capacity=room.capacity,
        )

    def all(self) -> list[Callable[..., Any]]:
        """Every activity of this class."""
        return [self.describe_hotel]
