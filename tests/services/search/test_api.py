import pytest

from tests.support.harness import problem_field


async def test_city_search_lists_paris_hotels_nearest_first(search):
    response = await search.get("/hotels", params={"city": "Paris"})
    assert response.status_code == 200
    page = response.json()
    assert page["city"]["name"] == "Paris"
    assert page["city"]["country"] == "France"
    assert page["items"], "Paris has hotels"
    assert all(h["city_id"] == page["city"]["id"] for h in page["items"])
    distances = [h["distance_km"] for h in page["items"]]
    assert distances == sorted(distances)
    assert page["total"] == page["city"]["hotel_count"]


async def test_city_name_ignores_case_and_accents(search):
    accented = (await search.get("/hotels", params={"city": "São Paulo"})).json()
    plain = (await search.get("/hotels", params={"city": "sao PAULO"})).json()
    assert accented["city"]["name"] == "São Paulo"
    assert plain["city"]["id"] == accented["city"]["id"]


async def test_pages_cover_every_hotel_once(search):
    first = (await search.get("/hotels", params={"city": "Tokyo", "page_size": 5})).json()
    total = first["total"]
    seen = []
    page = 1
    while True:
        body = (
            await search.get("/hotels", params={"city": "Tokyo", "page_size": 5, "page": page})
        ).json()
        seen += [h["id"] for h in body["items"]]
        if not body["has_next"]:
            break
        page += 1
    assert len(seen) == len(set(seen)) == total > 5


async def test_city_id_works_as_well_as_the_name(search):
    by_name = (await search.get("/hotels", params={"city": "London"})).json()
    by_id = (await search.get("/hotels", params={"city_id": by_name["city"]["id"]})).json()
    assert by_id == by_name


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({}, "body"),
        ({"city": ""}, "city"),
        ({"city": "Paris", "page": "0"}, "page"),
        ({"city": "Paris", "page": "one"}, "page"),
        ({"city": "Paris", "page_size": "1000"}, "page_size"),
        ({"city": "Paris", "colour": "red"}, "colour"),
        ({"city_id": "-3"}, "city_id"),
        ({"city_id": "9223372036854775808"}, "city_id"),
        ({"city": "Paris", "min_price": "9223372036854775808"}, "min_price"),
        ({"city": "Paris", "max_price": "9223372036854775808"}, "max_price"),
    ],
)
async def test_bad_parameters_are_400_naming_the_parameter(search, params, field):
    response = await search.get("/hotels", params=params)
    assert response.status_code == 400
    if field != "body":
        assert problem_field(response) == field
    else:
        assert "city" in response.json()["detail"]


async def test_unknown_city_is_404_naming_the_parameter(search):
    response = await search.get("/hotels", params={"city": "Atlantis"})
    assert response.status_code == 404
    assert problem_field(response) == "city"
    assert response.json()["type"].endswith("/unknown-city")


async def test_hotel_detail_has_room_types_with_nightly_rates(search):
    listed = (await search.get("/hotels", params={"city": "Paris"})).json()["items"][0]
    response = await search.get(f"/hotels/{listed['id']}")
    assert response.status_code == 200
    hotel = response.json()
    assert hotel["name"] == listed["name"]
    assert hotel["city"]["name"] == "Paris"
    rates = [r["nightly_rate"] for r in hotel["room_types"]]
    assert rates == sorted(rates) and rates[0] == listed["from_rate"]
    assert all(r["currency"] == "EUR" and r["capacity"] >= 1 for r in hotel["room_types"])


async def test_unknown_hotel_is_404_and_a_malformed_id_is_400(search):
    missing = await search.get("/hotels/99999999")
    assert missing.status_code == 404
    assert missing.json()["type"].endswith("/not-found")
    malformed = await search.get("/hotels/abc")
    assert malformed.status_code == 400
    assert problem_field(malformed) == "hotel_id"


# "²" passes `str.isdigit()` but breaks `int()`; "١" (Arabic-Indic one) would read as 1.
@pytest.mark.parametrize("raw", ["%C2%B2", "%D9%A1", "%D9%A1%D9%A2"])
async def test_a_hotel_id_in_digits_other_than_0_to_9_is_400(search, raw):
    response = await search.get(f"/hotels/{raw}")
    assert response.status_code == 400, response.text
    assert problem_field(response) == "hotel_id"


async def test_cities_autocomplete_by_prefix_biggest_first(search):
    response = await search.get("/cities", params={"prefix": "sao"})
    names = [c["name"] for c in response.json()["items"]]
    assert names[0] == "São Paulo"
    populations = [c["population"] for c in response.json()["items"]]
    assert populations == sorted(populations, reverse=True)


async def test_cities_prefix_with_like_wildcards_matches_literally(search):
    response = await search.get("/cities", params={"prefix": "%"})
    assert response.status_code == 200
    assert response.json()["items"] == []


async def test_cities_without_prefix_is_400(search):
    response = await search.get("/cities")
    assert response.status_code == 400
    assert problem_field(response) == "prefix"


async def test_openapi_lists_the_public_operations(search):
    document = (await search.get("/openapi.json")).json()
    assert set(document["paths"]) >= {"/cities", "/hotels", "/hotels/{hotel_id}"}
    params = {p["name"] for p in document["paths"]["/hotels"]["get"]["parameters"]}
    assert params >= {"city", "city_id", "page", "page_size", "check_in", "check_out", "guests"}
    assert params >= {"q", "stars", "amenities", "min_price", "max_price", "sort"}
