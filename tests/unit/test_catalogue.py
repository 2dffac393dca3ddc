from services.common.catalogue import (
    UNITS_PER_EURO,
    country_currency,
    generate_hotels,
    haversine_km,
    load_cities,
    load_city_names,
    local_price,
)
from services.common.text import search_key


def test_search_key_ignores_case_accents_and_hyphens():
    assert search_key("São Paulo") == "sao paulo"
    assert search_key("  MÜNCHEN ") == "munchen"
    assert search_key("Aix-en-Provence") == "aix en provence"


def test_haversine_paris_to_london_is_about_344_km():
    assert 340 < haversine_km(48.8566, 2.3522, 51.5074, -0.1278) < 348


def test_cities_are_real_and_largest_first():
    cities = load_cities(5_000_000)
    names = {c.name for c in cities}
    assert {"Tokyo", "London", "Paris"} & names
    assert [c.population for c in cities] == sorted((c.population for c in cities), reverse=True)
    assert all(c.country for c in cities)


def test_generated_catalogue_is_deterministic_and_sane():
    cities = load_cities(5_000_000)
    first = list(generate_hotels(cities, 5_000_000))
    again = list(generate_hotels(cities, 5_000_000))
    assert first == again
    assert len({h.id for h in first}) == len(first)
    for hotel in first:
        assert 1 <= hotel.stars <= 5
        assert hotel.distance_km <= 8.5
        assert 2 <= len(hotel.room_types) <= 4
        assert hotel.min_rate == min(r.nightly_rate for r in hotel.room_types)
        assert all(r.nightly_rate > 0 and r.capacity >= 1 for r in hotel.room_types)


def test_hotels_price_in_their_countrys_currency():
    cities = {c.name: c for c in load_cities(5_000_000)}
    assert cities["London"].currency == "GBP"
    assert cities["Tokyo"].currency == "JPY"
    assert cities["New York City"].currency == "USD"
    for hotel in generate_hotels(list(cities.values()), 5_000_000):
        city = next(c for c in cities.values() if c.id == hotel.city_id)
        assert hotel.currency == city.currency
        assert {r.currency for r in hotel.room_types} == {city.currency}


def test_a_country_without_a_demo_rate_prices_in_euros():
    assert country_currency({"currencycode": "CHF"}) == "CHF"
    assert country_currency({"currencycode": "XTS"}) == "EUR"
    assert country_currency(None) == "EUR"


def test_local_prices_use_the_currencys_minor_units():
    # Euro prices are as they always were: whole euros less one cent.
    assert local_price(12_850, "EUR") == 12_899 - 100
    assert local_price(12_899, "EUR") == 12_899
    # The yen has no minor unit: a round figure, in yen.
    yen = local_price(12_899, "JPY")
    assert yen == round(128.99 * UNITS_PER_EURO["JPY"], -1)
    assert yen % 10 == 0
    # The Kuwaiti dinar has three decimals: whole dinars less one fils.
    assert local_price(12_899, "KWD") == 46_000 - 1
    assert local_price(12_899, "GBP") % 100 == 99


def test_other_city_names_are_the_ones_people_write():
    cities = {c.id: c.name for c in load_cities(1_000_000)}
    names = load_city_names(1_000_000)
    assert {n.city_id for n in names} <= set(cities)
    by_key = {(cities[n.city_id], n.search_key) for n in names}
    assert ("Rome", "roma") in by_key
    assert ("Munich", "munchen") in by_key
    assert ("New York City", "new york") in by_key
    # Machine transliterations and two-letter codes are not names to match.
    assert not any(n.name.isascii() and n.name.islower() for n in names)
    assert all(len(n.search_key) >= 3 for n in names)
    assert all(n.search_key != search_key(cities[n.city_id]) for n in names)


def test_a_cheap_yen_price_is_a_round_figure_too():
    assert local_price(4_999, "JPY") % 10 == 0
