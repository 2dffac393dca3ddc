"""The search form forgives: other names, typos, a chosen city's id; prices in the city's
own currency. Against the seeded Search of tests/web/conftest (cities of 2M or more)."""

import html
import re

from services.search.api import HotelQuery
from tests.web.conftest import Site


async def test_autocomplete_suggestions_carry_the_city_id_and_label(site: Site):
    body = (await site.client.get("/api/cities", params={"prefix": "Roma"})).json()
    rome = next(c for c in body["items"] if c["name"] == "Rome")
    assert rome["label"] == "Rome, Italy"
    assert rome["known_as"] == "Roma"
    assert isinstance(rome["id"], int)


async def test_autocomplete_offers_did_you_mean_for_a_typo(site: Site):
    body = (await site.client.get("/api/cities", params={"prefix": "Lodnon"})).json()
    assert body["items"] == []
    assert body["did_you_mean"][0]["label"] == "London, United Kingdom"


async def test_a_city_is_found_by_another_name(site: Site):
    response = await site.client.get("/search", params={"city": "Roma"})
    assert response.status_code == 200, response.text
    assert "Hotels in Rome, Italy" in response.text


async def test_a_typo_is_a_404_on_the_city_field_that_offers_the_city_by_its_id(site: Site):
    response = await site.client.get("/search", params={"city": "Lodnon", "sort": "price"})
    assert response.status_code == 404
    assert 'id="city-error"' in response.text
    offer = re.search(
        r'id="did-you-mean">Did you mean\s*<a href="([^"]+)">([^<]+)</a>', response.text
    )
    assert offer, response.text
    assert offer.group(2) == "London, United Kingdom"
    link = html.unescape(offer.group(1))
    assert "city_id=" in link and "sort=price" in link
    followed = await site.client.get(link)
    assert followed.status_code == 200
    assert "Hotels in London, United Kingdom" in followed.text


async def test_a_chosen_city_id_wins_while_the_field_still_names_that_city(site: Site):
    backends = site.app.state.backends
    london = (await backends.hotels(HotelQuery(city="London", page_size=1))).page.city
    page = await site.client.get("/search", params={"city": "London", "city_id": london.id})
    assert "Hotels in London" in page.text
    assert f'name="city_id" value="{london.id}"' in page.text
    # Typed over, without a script to clear the id: the typed name wins.
    typed = await site.client.get("/search", params={"city": "Paris", "city_id": london.id})
    assert typed.status_code == 200
    assert "Hotels in Paris, France" in typed.text
    assert 'name="city_id" value=""' in typed.text
    # An id no city has: the name still finds the city.
    gone = await site.client.get("/search", params={"city": "Paris", "city_id": 1})
    assert gone.status_code == 200
    assert "Hotels in Paris, France" in gone.text


async def test_a_city_id_that_is_not_a_number_is_a_400_on_the_city_field(site: Site):
    response = await site.client.get("/search", params={"city": "Paris", "city_id": "x1"})
    assert response.status_code == 400
    assert 'id="city-error"' in response.text


async def test_price_filters_are_whole_units_of_the_citys_currency(site: Site):
    everything = await site.client.get("/search", params={"city": "Tokyo"})
    assert "Lowest price a night (JPY)" in everything.text
    rates = [
        int(r.replace(",", "")) for r in re.findall(r"from ([\d,]+) JPY a night", everything.text)
    ]
    assert rates and all(r % 10 == 0 for r in rates)
    # A yen bound is yen, not hundredths of a yen.
    floor = sorted(rates)[len(rates) // 2]
    filtered = await site.client.get("/search", params={"city": "Tokyo", "min_price": floor})
    shown = [
        int(r.replace(",", "")) for r in re.findall(r"from ([\d,]+) JPY a night", filtered.text)
    ]
    assert shown and all(r >= floor for r in shown)
    assert min(shown) == floor
