"""Finding a city the way travellers write it: other names, typos, namesakes, currency.

A catalogue of cities of 400,000 people or more, so London, Canada (about 420,000) and
Zürich are in; without dates, so no Reservations is needed behind it.
"""

from collections.abc import AsyncIterator

import httpx
import pytest

from services.common.db import create_engine
from services.common.migrations import migrate
from services.search.app import create_app
from services.search.seed import seed_catalogue
from tests.support.harness import problem_field, running_app, settings_for

MIN_POPULATION = 400_000


@pytest.fixture(scope="module")
async def cities(tmp_path_factory) -> AsyncIterator[httpx.AsyncClient]:
    var_dir = tmp_path_factory.mktemp("city-names")
    url = f"sqlite+aiosqlite:///{var_dir}/search.db"
    engine = create_engine(url)
    await migrate(engine, "services.search.migrations")
    await seed_catalogue(engine, MIN_POPULATION)
    await engine.dispose()
    app = create_app(settings_for(var_dir, {"SEARCH_DATABASE_URL": url}))
    async with running_app(app) as client:
        yield client


async def _city(client: httpx.AsyncClient, **params: object) -> dict:
    response = await client.get("/hotels", params=params)
    assert response.status_code == 200, response.text
    return response.json()


@pytest.mark.parametrize(
    ("written", "name", "country"),
    [
        ("Roma", "Rome", "IT"),
        ("New York", "New York City", "US"),
        ("Frankfurt", "Frankfurt am Main", "DE"),
        ("München", "Munich", "DE"),
        ("muenchen", "Munich", "DE"),
    ],
)
async def test_a_city_is_found_by_its_other_names(cities, written, name, country):
    page = await _city(cities, city=written)
    assert (page["city"]["name"], page["city"]["country_code"]) == (name, country)
    assert page["items"]


async def test_autocomplete_suggests_a_city_by_another_name_and_says_which(cities):
    body = (await cities.get("/cities", params={"prefix": "Roma"})).json()
    rome = next(c for c in body["items"] if c["name"] == "Rome")
    assert rome["country_code"] == "IT"
    assert rome["known_as"] == "Roma"
    assert body["did_you_mean"] == []


async def test_autocomplete_offers_the_nearest_names_when_nothing_starts_so(cities):
    body = (await cities.get("/cities", params={"prefix": "Lodnon"})).json()
    assert body["items"] == []
    assert [c["name"] for c in body["did_you_mean"]][:1] == ["London"]
    assert body["did_you_mean"][0]["country_code"] == "GB"


async def test_an_unknown_city_is_a_404_naming_the_field_with_suggestions(cities):
    response = await cities.get("/hotels", params={"city": "Lodnon"})
    assert response.status_code == 404
    assert problem_field(response) == "city"
    suggestions = response.json()["suggestions"]
    assert {(c["name"], c["country_code"]) for c in suggestions} >= {("London", "GB")}
    assert all(isinstance(c["id"], int) for c in suggestions)


async def test_gibberish_gets_no_suggestion(cities):
    response = await cities.get("/hotels", params={"city": "Xqzvw"})
    assert response.status_code == 404
    assert response.json()["suggestions"] == []


async def test_an_unknown_city_id_is_a_404_naming_city_id(cities):
    response = await cities.get("/hotels", params={"city_id": 1})
    assert response.status_code == 404
    assert problem_field(response) == "city_id"


async def test_london_offers_its_namesake_in_canada_and_the_id_picks_it(cities):
    biggest = await _city(cities, city="London")
    assert biggest["city"]["country_code"] == "GB"
    namesakes = {c["country_code"]: c for c in biggest["namesakes"]}
    assert "CA" in namesakes
    canada = await _city(cities, city_id=namesakes["CA"]["id"])
    assert canada["city"]["country_code"] == "CA"
    assert canada["city"]["currency"] == "CAD"
    assert {h["city_id"] for h in canada["items"]} == {namesakes["CA"]["id"]}
    assert "GB" in {c["country_code"] for c in canada["namesakes"]}
    # By name with the country, too, as a form without script sends it.
    for written in ("London, Canada", "london, ca"):
        assert (await _city(cities, city=written))["city"]["id"] == namesakes["CA"]["id"]


@pytest.mark.parametrize(
    ("city", "currency"),
    [("London", "GBP"), ("Tokyo", "JPY"), ("Zürich", "CHF"), ("Paris", "EUR"),
     ("New York", "USD")],
)  # fmt: skip
async def test_hotels_are_priced_in_the_local_currency(cities, city, currency):
    page = await _city(cities, city=city)
    assert page["city"]["currency"] == currency
    assert {h["currency"] for h in page["items"]} == {currency}
    hotel = (await cities.get(f"/hotels/{page['items'][0]['id']}")).json()
    assert {r["currency"] for r in hotel["room_types"]} == {currency}
    if currency == "JPY":
        # Whole yen, in round figures: a yen price, not a euro price with its cents.
        assert all(r["nightly_rate"] % 10 == 0 for r in hotel["room_types"])
        assert all(r["nightly_rate"] > 3000 for r in hotel["room_types"])
