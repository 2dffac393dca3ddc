import datetime as dt

import pytest
import sqlalchemy as sa

from services.reservations.models import nights
from services.search import api
from tests.support.harness import problem_field


def stay(offset: int = 30, length: int = 3, guests: int = 2) -> dict[str, object]:
    """Query parameters of a stay `offset` days from today."""
    check_in = dt.date.today() + dt.timedelta(days=offset)
    return {
        "check_in": check_in.isoformat(),
        "check_out": (check_in + dt.timedelta(days=length)).isoformat(),
        "guests": guests,
    }


async def _all_pages(search, params):
    items, page = [], 1
    while True:
        body = (await search.get("/hotels", params={**params, "page": page})).json()
        items += body["items"]
        if not body["has_next"]:
            return items, body["total"]
        page += 1


async def test_dated_search_prices_the_whole_stay(search):
    response = await search.get("/hotels", params={"city": "Paris", **stay(length=3)})
    assert response.status_code == 200, response.text
    page = response.json()
    assert page["items"]
    for hotel in page["items"]:
        offer = hotel["stay"]
        assert offer["nights"] == 3 and offer["guests"] == 2
        assert offer["total"] == 3 * offer["nightly_rate"]
        assert offer["rooms_left"] >= 1 and offer["currency"] == "EUR"
    undated = (await search.get("/hotels", params={"city": "Paris"})).json()
    assert all(h["stay"] is None for h in undated["items"])


async def test_dated_search_asks_reservations_once_per_request(search, search_stack):
    search_stack.calls.paths.clear()
    await search.get("/hotels", params={"city": "Tokyo", **stay()})
    assert search_stack.calls.paths == ["/availability/batch"]
    search_stack.calls.paths.clear()
    await search.get("/hotels", params={"city": "Tokyo"})
    assert search_stack.calls.paths == []


async def test_a_sold_out_hotel_is_not_listed_for_those_dates(search, search_stack):
    dates = stay(offset=100, length=2)
    listed = (await search.get("/hotels", params={"city": "London", **dates})).json()
    victim = listed["items"][0]
    rooms = (await search.get(f"/hotels/{victim['id']}")).json()["room_types"]
    async with search_stack.reservations.begin() as conn:
        for room in rooms:
            # Booked solid for the second night only (totals are 3 to 40 rooms).
            night = dt.date.fromisoformat(dates["check_in"]) + dt.timedelta(days=1)
            await conn.execute(
                sa.insert(nights).values(room_type_id=room["id"], night=night, reserved=40)
            )
    after = (await search.get("/hotels", params={"city": "London", **dates})).json()
    assert victim["id"] not in [h["id"] for h in after["items"]]
    assert after["total"] == listed["total"] - 1
    other_dates = await search.get("/hotels", params={"city": "London", **stay(offset=90)})
    assert victim["id"] in [h["id"] for h in other_dates.json()["items"]]


async def test_a_dated_page_is_exactly_the_documented_hotel_page(search):
    # The dated page is built without pydantic (a hot path): it must still be, field for
    # field and format for format, what the HotelPage model and the OpenAPI document say.
    response = await search.get("/hotels", params={"city": "Paris", **stay()})
    body = response.json()
    assert body["items"]
    assert api.HotelPage.model_validate(body).model_dump(mode="json") == body


async def test_dated_pages_cover_every_available_hotel_once(search):
    params = {"city": "Tokyo", "page_size": 4, **stay()}
    items, total = await _all_pages(search, params)
    ids = [h["id"] for h in items]
    assert len(ids) == len(set(ids)) == total > 4


async def test_big_parties_get_rooms_that_sleep_them(search):
    page = (await search.get("/hotels", params={"city": "Paris", **stay(guests=4)})).json()
    for hotel in page["items"]:
        rooms = (await search.get(f"/hotels/{hotel['id']}")).json()["room_types"]
        capacity = {r["id"]: r["capacity"] for r in rooms}
        assert capacity[hotel["stay"]["room_type_id"]] >= 4


@pytest.mark.parametrize("dated", [False, True])
async def test_sorting_by_price_and_by_stars(search, dated):
    dates = stay() if dated else {}
    by_price = (
        await search.get("/hotels", params={"city": "Tokyo", "sort": "price", **dates})
    ).json()["items"]
    prices = [h["stay"]["total"] if dated else h["from_rate"] for h in by_price]
    assert prices == sorted(prices) and len(prices) > 3
    by_stars = (
        await search.get("/hotels", params={"city": "Tokyo", "sort": "stars", **dates})
    ).json()["items"]
    stars = [h["stars"] for h in by_stars]
    assert stars == sorted(stars, reverse=True)


@pytest.mark.parametrize("dated", [False, True])
async def test_filters_by_stars_amenities_price_and_name(search, dated):
    dates = stay() if dated else {}
    base = {"city": "Tokyo", "page_size": 100, **dates}
    everything = (await search.get("/hotels", params=base)).json()
    starred = (await search.get("/hotels", params={**base, "stars": ["4", "5"]})).json()
    assert starred["items"] and all(h["stars"] in (4, 5) for h in starred["items"])
    assert starred["total"] == sum(h["stars"] in (4, 5) for h in everything["items"])
    equipped = (await search.get("/hotels", params={**base, "amenities": ["wifi", "bar"]})).json()[
        "items"
    ]
    assert all({"wifi", "bar"} <= set(h["amenities"]) for h in equipped)
    rates = sorted(
        h["stay"]["nightly_rate"] if dated else h["from_rate"] for h in everything["items"]
    )
    low, high = rates[len(rates) // 4], rates[3 * len(rates) // 4]
    priced = (
        await search.get("/hotels", params={**base, "min_price": low, "max_price": high})
    ).json()["items"]
    assert priced
    for hotel in priced:
        nightly = hotel["stay"]["nightly_rate"] if dated else hotel["from_rate"]
        assert low <= nightly <= high
    word = everything["items"][0]["name"].split()[0]
    named = (await search.get("/hotels", params={**base, "q": word.upper()})).json()["items"]
    assert named and all(word.lower() in h["name"].lower() for h in named)


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"check_in": stay()["check_in"], "check_out": stay()["check_out"]}, "guests"),
        ({"check_in": stay()["check_in"], "guests": 2}, "check_out"),
        ({**stay(length=0)}, "check_out"),
        ({**stay(offset=-5)}, "check_in"),
        ({**stay(length=40)}, "check_out"),
        ({**stay(), "guests": 0}, "guests"),
        ({"stars": "6"}, "stars.0"),
        ({"sort": "colour"}, "sort"),
        ({"amenities": "Wi Fi"}, "amenities.0"),
    ],
)
async def test_bad_stay_parameters_are_400_naming_the_parameter(search, params, field):
    response = await search.get("/hotels", params={"city": "Paris", **params})
    assert response.status_code == 400, response.text
    assert problem_field(response) == field
