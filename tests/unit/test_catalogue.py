from services.common.catalogue import generate_hotels, haversine_km, load_cities
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
