"""Search's one client: every caller of Search's routes goes through `SearchClient`.

Search's routes are public: the client sends no token, but it still owns the paths and
the parsing of the answers into `services.search.api`'s models. A refusal is raised as
`ServiceError` with Search's problem document; no answer at all as `TransportError`.
"""

from __future__ import annotations

from services.common.client import TypedClient
from services.search import api


class SearchClient(TypedClient):
    """Search's routes, one typed method each."""

    async def cities(self, query: api.CityQuery) -> api.CityList:
        """Cities whose name starts with the prefix, most populous first."""
        reply = await self._send("GET", api.CITIES_PATH, None, query=query)
        return api.CityList.model_validate_json(reply)

    async def hotels(self, query: api.HotelQuery) -> api.HotelPage:
        """A page of a city's hotels; with dates, those free for the stay and its price."""
        reply = await self._send("GET", api.HOTELS_PATH, None, query=query)
        return api.HotelPage.model_validate_json(reply)

    async def hotel(self, hotel_id: int) -> api.Hotel:
        """A hotel with its description and room types."""
        reply = await self._send("GET", api.hotel_path(hotel_id), None)
        return api.Hotel.model_validate_json(reply)
