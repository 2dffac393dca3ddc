import asyncio
import contextlib
import datetime as dt
import json

import httpx
import pytest
import sqlalchemy as sa

from services.common.http import ServiceConnections
from services.reservations.tables import nights
from services.search import api
from services.search.app import create_app
from tests.support.harness import problem_field, running_app
from tests.support.tokens import TestIssuer, token_source


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
    assert search_stack.calls.paths == ["/availability/searches"]
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


async def test_concurrent_searches_share_calls_and_each_gets_its_own_page(search, search_stack):
    searches = [
        {"city": city, **stay(offset=offset, length=length, guests=guests)}
        for city, offset, length, guests in (
            ("Paris", 20, 2, 2),
            ("London", 40, 3, 1),
            ("Tokyo", 60, 1, 3),
            ("Paris", 80, 5, 4),
            ("London", 21, 2, 2),
            ("Tokyo", 22, 7, 1),
            ("Paris", 23, 1, 2),
            ("London", 24, 4, 2),
        )
    ]
    alone = [(await search.get("/hotels", params=params)).json() for params in searches]
    search_stack.calls.paths.clear()
    together = await asyncio.gather(*(search.get("/hotels", params=p) for p in searches))
    assert [r.json() for r in together] == alone
    assert 1 <= len(search_stack.calls.paths) < len(searches)
    assert {p["stay"]["nights"] for page in alone for p in page["items"]} == {1, 2, 3, 4, 5, 7}


@contextlib.asynccontextmanager
async def _search_before(search_stack, answer):
    """A Search whose Reservations answers each call with `answer(searches)`, or raises."""

    def reservations(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=answer(json.loads(request.content)["searches"]))

    settings = search_stack.app.state.settings
    async with httpx.AsyncClient(transport=httpx.MockTransport(reservations)) as http:
        clients = ServiceConnections(
            settings, tokens=token_source(TestIssuer(), "search"), http=http
        )
        async with running_app(create_app(settings, clients)) as client:
            yield client


async def test_a_search_reservations_refuses_is_400_naming_the_field(search_stack):
    refusal = {
        "type": "https://staysaga.dev/problems/validation-error",
        "title": "Your request has invalid fields.",
        "status": 422,
        "detail": "check_in: must not be in the past",
        "field": "check_in",
    }
    async with _search_before(
        search_stack, lambda s: {"results": [{"status": 422, "body": refusal}] * len(s)}
    ) as client:
        response = await client.get("/hotels", params={"city": "Paris", **stay()})
    assert response.status_code == 400
    assert problem_field(response) == "check_in"


def _unreachable(searches):
    raise httpx.ConnectError("connection refused")


async def test_without_reservations_a_dated_search_is_503_and_an_undated_one_works(search_stack):
    async with _search_before(search_stack, _unreachable) as client:
        dated = await client.get("/hotels", params={"city": "Paris", **stay()})
        undated = await client.get("/hotels", params={"city": "Paris"})
    assert dated.status_code == 503
    assert dated.json()["type"].endswith("/availability-unavailable")
    assert dated.headers["retry-after"] == "5"
    assert undated.status_code == 200 and undated.json()["items"]


async def test_a_tokyo_stay_is_priced_in_yen(search):
    response = await search.get("/hotels", params={"city": "Tokyo", **stay(length=2)})
    assert response.status_code == 200, response.text
    items = response.json()["items"]
    assert items
    for hotel in items:
        offer = hotel["stay"]
        assert offer["currency"] == hotel["currency"] == "JPY"
        assert offer["total"] % 10 == 0
        assert offer["nightly_rate"] % 10 == 0
