"""describe_hotel against the real Search app (in process), through Search's client."""

from __future__ import annotations

import httpx
import pytest
from temporalio.exceptions import ApplicationError

from activities import models as act
from activities.catalogue import CatalogueActivities
from services.common.http import ServiceConnections
from services.search.api import HotelQuery
from services.search.client import SearchClient
from tests.services.search.conftest import seeded_search
from tests.support.harness import activity_environment, settings_for


@pytest.fixture(scope="module")
async def catalogue(tmp_path_factory):
    var_dir = tmp_path_factory.mktemp("catalogue")
    async with seeded_search(
        var_dir,
        f"sqlite+aiosqlite:///{var_dir}/search.db",
        f"sqlite+aiosqlite:///{var_dir}/reservations.db",
    ) as stack:
        http = httpx.AsyncClient(transport=httpx.ASGITransport(app=stack.app))
        clients = ServiceConnections(settings_for(var_dir), http=http)
        yield CatalogueActivities(clients), SearchClient(clients["search"])
        await http.aclose()


async def test_describe_hotel_names_the_hotel_and_room_from_the_catalogue(catalogue):
    activities, search = catalogue
    page = await search.hotels(HotelQuery(city="Paris", page_size=1))
    hotel = await search.hotel(page.items[0].id)
    room = hotel.room_types[-1]
    info = await activity_environment().run(
        activities.describe_hotel, act.HotelRef(hotel_id=hotel.id, room_type_id=room.id)
    )
    assert info == act.HotelInfo(
        hotel_name=hotel.name,
        hotel_address=hotel.address,
        room_type_name=room.name,
        capacity=room.capacity,
    )


@pytest.mark.parametrize("hotel_id, room_type_id", [(999_999_999, 1), (None, 999_999_999)])
async def test_an_unknown_hotel_or_room_is_a_non_retryable_bad_request(
    catalogue, hotel_id, room_type_id
):
    activities, search = catalogue
    if hotel_id is None:
        hotel_id = (await search.hotels(HotelQuery(city="Paris", page_size=1))).items[0].id
    with pytest.raises(ApplicationError) as caught:
        await activity_environment().run(
            activities.describe_hotel, act.HotelRef(hotel_id=hotel_id, room_type_id=room_type_id)
        )
    assert caught.value.type == act.BAD_REQUEST and caught.value.non_retryable
