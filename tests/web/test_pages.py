"""The website's search pages, security headers and forms, through the ASGI client."""

import html
import re
from datetime import UTC, date, datetime, time, timedelta

import pytest

from services.common.http import ServiceError
from services.search.api import Hotel, HotelPage, HotelQuery
from tests.web.conftest import Site
from web.pages.common import money

TOMORROW = date.today() + timedelta(days=1)
IN_THREE = TOMORROW + timedelta(days=2)


def _assert_no_inline_script(html: str) -> None:
    for tag in re.findall(r"<script\b[^>]*>", html):
        assert "src=" in tag, tag
    assert not re.search(r"<script\b[^>]*>\s*[^<\s]", html), "a script has inline content"
    assert "<style" not in html and " style=" not in html
    assert not re.search(r"\son[a-z]+=", html), "an inline event handler"


async def test_home_renders_with_strict_security_headers(site: Site):
    response = await site.client.get("/")
    assert response.status_code == 200
    assert 'action="/search"' in response.text and 'for="city"' in response.text
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "style-src 'self'" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert "frame-ancestors 'none'" in csp
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "same-origin"
    _assert_no_inline_script(response.text)


async def test_static_files_are_served(site: Site):
    css = await site.client.get("/static/site.css")
    js = await site.client.get("/static/site.js")
    assert css.status_code == 200 and "@media" in css.text
    assert js.status_code == 200 and "EventSource" in js.text


async def test_city_autocomplete_comes_from_search(site: Site):
    response = await site.client.get("/api/cities", params={"prefix": "Pari"})
    assert response.status_code == 200
    assert "Paris" in [c["name"] for c in response.json()["items"]]


async def test_search_lists_hotels_and_links_carry_the_stay(site: Site):
    response = await site.client.get(
        "/search",
        params={"city": "Paris", "check_in": TOMORROW, "check_out": IN_THREE, "guests": 2},
    )
    assert response.status_code == 200, response.text
    assert "Hotels in Paris" in response.text
    link = re.search(r'href="(/hotels/\d+\?[^"]+)"', response.text).group(1)
    assert f"check_in={TOMORROW}" in link and "guests=2" in link
    assert "for 2 nights" in response.text
    _assert_no_inline_script(response.text)


async def test_dated_results_show_the_price_of_the_stay_search_sends(site: Site, monkeypatch):
    query = HotelQuery(city="Paris", check_in=TOMORROW, check_out=IN_THREE, guests=2)
    real = await site.app.state.backends.search.hotels(query)
    hotel = real.items[0]
    assert hotel.stay is not None
    # A stay priced apart from the catalogue's cheapest rate (a seasonal rate would be), so
    # that the page cannot show the right figure by computing it from the rate.
    offer = hotel.stay.model_copy(update={"total": hotel.from_rate * hotel.stay.nights + 1234})
    page = real.model_copy(update={"items": [hotel.model_copy(update={"stay": offer})]})

    async def answer(_: HotelQuery) -> HotelPage:
        return page

    monkeypatch.setattr(site.app.state.backends.search, "hotels", answer)
    response = await site.client.get(
        "/search",
        params={"city": "Paris", "check_in": TOMORROW, "check_out": IN_THREE, "guests": 2},
    )
    assert response.status_code == 200, response.text
    shown = re.search(r'<p class="price">\s*(.*?) for 2 nights', response.text).group(1)
    assert shown == money(offer.total, offer.currency)
    assert "Available" in response.text


async def test_results_sorted_by_price_show_the_stays_totals_in_order_with_rooms_left(
    site: Site,
):
    query = HotelQuery(city="Paris", check_in=TOMORROW, check_out=IN_THREE, guests=2, sort="price")
    offers = {h.name: h.stay for h in (await site.app.state.backends.search.hotels(query)).items}
    response = await site.client.get(
        "/search",
        params={
            "city": "Paris",
            "check_in": TOMORROW,
            "check_out": IN_THREE,
            "guests": 2,
            "sort": "price",
        },
    )
    assert response.status_code == 200, response.text
    cards = re.findall(
        r'<h2><a href="[^"]+">([^<]+)</a></h2>.*?<p class="price">\s*(.*?) for 2 nights, 2 guests'
        r'\s*<span class="badge ok">([^<]+)</span>',
        response.text,
        re.S,
    )
    assert len(cards) == len(offers) >= 2
    shown = [(html.unescape(name), price, badge) for name, price, badge in cards]
    for name, price, badge in shown:
        offer = offers[name]
        assert price == money(offer.total, offer.currency)
        expected = f"{offer.rooms_left} room" if offer.rooms_left <= 5 else "Available"
        assert badge.startswith(expected)
    totals = [offers[name].total for name, _, _ in shown]
    assert totals == sorted(totals)


async def test_filters_reach_search_and_apply(site: Site):
    response = await site.client.get(
        "/search",
        params={"city": "Paris", "stars": 3, "sort": "price", "amenities": ["wifi"]},
    )
    assert response.status_code == 200, response.text
    assert "Not applied yet" not in response.text
    assert 'class="card hotel"' in response.text


async def test_a_filter_search_refuses_is_dropped_and_named(site: Site, monkeypatch):
    search = site.app.state.backends.search
    real, asked = search.hotels, []

    async def refusing_amenities(query: HotelQuery) -> HotelPage:
        asked.append(query)
        if query.amenities:
            problem = {"type": "validation", "errors": [{"field": "amenities", "message": "?"}]}
            raise ServiceError(422, problem, "GET", "search")
        return await real(query)

    monkeypatch.setattr(search, "hotels", refusing_amenities)
    response = await site.client.get(
        "/search", params={"city": "Paris", "stars": 3, "amenities": ["wifi"]}
    )
    assert response.status_code == 200, response.text
    assert re.search(r"Not applied yet[^.]*: amenities\.", response.text)
    assert [q.amenities for q in asked] == [["wifi"], None]
    assert asked[-1].stars == [3, 4, 5]


async def test_results_have_pages(site: Site, monkeypatch):
    monkeypatch.setattr("web.pages.search.PAGE_SIZE", 2)  # the test catalogue has 3 Paris hotels
    first = await site.client.get("/search", params={"city": "Paris"})
    next_link = re.search(r'href="([^"]+)" rel="next"', first.text)
    assert next_link, first.text
    second = await site.client.get(next_link.group(1).replace("&amp;", "&"))
    assert second.status_code == 200 and "Page 2" in second.text
    assert 'rel="prev"' in second.text


async def test_search_errors_sit_next_to_their_fields(site: Site):
    response = await site.client.get(
        "/search", params={"city": "Paris", "check_in": IN_THREE, "check_out": TOMORROW}
    )
    assert response.status_code == 400
    assert 'aria-describedby="check_out-error"' in response.text
    assert re.search(r'id="check_out-error">Check-out must be after check-in', response.text)


async def test_a_stay_over_a_year_ahead_is_explained_next_to_the_check_in(site: Site):
    check_in = date.today() + timedelta(days=400)
    response = await site.client.get(
        "/search",
        params={"city": "Paris", "check_in": check_in, "check_out": check_in + timedelta(2)},
    )
    assert response.status_code == 400
    assert "unavailable" not in response.text and "365" not in response.text
    assert re.search(r'id="check_in-error">Rooms can be booked up to a year ahead', response.text)
    assert 'aria-describedby="check_in-error"' in response.text


async def test_search_refusing_the_travellers_dates_is_not_called_unavailable(
    site: Site, monkeypatch
):
    async def refusing(query: HotelQuery) -> HotelPage:
        problem = {
            "type": "validation-error",
            "detail": "check_in: must be within 365 days",
            "field": "check_in",
            "errors": [{"field": "check_in", "message": "must be within 365 days"}],
        }
        raise ServiceError(400, problem, "GET", "search")

    monkeypatch.setattr(site.app.state.backends.search, "hotels", refusing)
    response = await site.client.get(
        "/search",
        params={"city": "Paris", "check_in": IN_THREE, "check_out": IN_THREE + timedelta(1)},
    )
    assert response.status_code == 400
    assert "unavailable" not in response.text and "must be within" not in response.text
    assert re.search(r'id="check_in-error">Choose a check-in date from today', response.text)


async def test_date_inputs_carry_the_bookable_range(site: Site):
    today = date.today()
    for path in ("/", "/search?city=Paris"):
        page = await site.client.get(path)
        field = re.search(r'<input id="check_in"[^>]*>', page.text).group(0)
        assert f'min="{today.isoformat()}"' in field
        assert f'max="{(today + timedelta(days=365)).isoformat()}"' in field
        assert re.search(r'<input id="check_out"[^>]*max="[0-9-]+"', page.text)
    hotel = await _a_hotel(site)
    page = await site.client.get(f"/hotels/{hotel.id}")
    assert re.search(r'<input id="check_in"[^>]*min="[0-9-]+" max="[0-9-]+"', page.text)


async def test_unknown_city_is_an_error_on_the_city_field(site: Site):
    response = await site.client.get("/search", params={"city": "Nowhereville"})
    assert response.status_code == 404
    assert 'id="city-error"' in response.text


async def _a_hotel(site: Site) -> Hotel:
    """A Paris hotel, with its room types, straight from Search."""
    backends = site.app.state.backends
    page = await backends.hotels(HotelQuery(city="Paris", page_size=1))
    return await backends.hotel(page.page.items[0].id)


async def test_hotel_page_without_dates_shows_rates_only(site: Site):
    hotel = await _a_hotel(site)
    response = await site.client.get(f"/hotels/{hotel.id}")
    assert response.status_code == 200
    assert hotel.name in response.text
    assert "a night" in response.text and "Choose dates" in response.text
    assert "availability" not in site.services.calls


async def test_hotel_page_with_dates_shows_availability_from_reservations(site: Site):
    hotel = await _a_hotel(site)
    room_ids = [r.id for r in hotel.room_types]
    site.services.availability = [
        {"room_type_id": room_ids[0], "rooms_left": 2},
        *({"room_type_id": r, "rooms_left": 0} for r in room_ids[1:]),
    ]
    response = await site.client.get(
        f"/hotels/{hotel.id}",
        params={"check_in": TOMORROW, "check_out": IN_THREE, "guests": 1},
    )
    assert response.status_code == 200
    assert "2 left" in response.text
    if len(room_ids) > 1:
        assert "Sold out" in response.text
    call = site.services.calls["availability"][0]
    assert call.url.params["hotel_id"] == str(hotel.id)
    assert call.url.params["check_in"] == TOMORROW.isoformat()
    assert call.headers["authorization"].startswith("Bearer ")
    assert f"room_type_id={room_ids[0]}" in response.text


async def test_hotel_page_survives_reservations_being_down(site: Site):
    hotel = await _a_hotel(site)
    site.services.availability_status = 503
    response = await site.client.get(
        f"/hotels/{hotel.id}", params={"check_in": TOMORROW, "check_out": IN_THREE}
    )
    assert response.status_code == 200
    assert "cannot check availability" in response.text


async def test_unknown_hotel_is_404(site: Site):
    response = await site.client.get("/hotels/999999999")
    assert response.status_code == 404
    assert "No such hotel" in response.text


def test_prices_show_each_currencys_own_minor_units():
    from web.pages.common import money

    assert money(12899, "EUR") == "128.99 EUR"
    assert money(5000, "JPY") == "5,000 JPY"
    assert money(12345, "KWD") == "12.345 KWD"
    assert money(None, "EUR") == ""


async def test_a_room_too_small_for_the_party_says_so_not_sold_out(site: Site):
    hotel = await _a_hotel(site)
    small = min(hotel.room_types, key=lambda r: r.capacity)
    party = small.capacity + 1
    # Reservations answers only the rooms that sleep the party: the small one is absent.
    site.services.availability = [
        {"room_type_id": r.id, "rooms_left": 3} for r in hotel.room_types if r.capacity >= party
    ]
    response = await site.client.get(
        f"/hotels/{hotel.id}",
        params={"check_in": TOMORROW, "check_out": IN_THREE, "guests": party},
    )
    assert response.status_code == 200
    card = re.search(
        rf"<h3>{re.escape(html.escape(small.name))}</h3>(.*?)</li>", response.text, re.S
    )
    assert card is not None
    assert "Too small for your party" in card.group(1)
    assert "Sold out" not in card.group(1) and "/book?" not in card.group(1)


async def test_the_hotel_page_with_dates_shows_the_hotels_cancellation_policy(site: Site):
    hotel = await _a_hotel(site)
    site.services.availability = [{"room_type_id": hotel.room_types[0].id, "rooms_left": 1}]
    check_in = date.today() + timedelta(days=10)
    response = await site.client.get(
        f"/hotels/{hotel.id}",
        params={"check_in": check_in, "check_out": check_in + timedelta(2), "guests": 1},
    )
    until = datetime.combine(check_in, time(14), UTC) - timedelta(hours=48)
    assert f"Free cancellation until {until:%-d %B %Y, %H:%M} UTC" in response.text
    undated = await site.client.get(f"/hotels/{hotel.id}")
    assert "Free cancellation" not in undated.text


# Digits of other scripts pass `str.isdigit()`: "²" then broke `int()` (a 500), and "١٢"
# (Arabic-Indic) was read as 12.
@pytest.mark.parametrize("digits", ["²", "١٢"])
@pytest.mark.parametrize(
    ("param", "field"),
    [("stars", "stars"), ("min_price", "min_price"), ("page", "page"), ("city_id", "city")],
)
async def test_a_number_in_digits_other_than_0_to_9_is_an_error_on_its_field(
    site: Site, param, field, digits
):
    response = await site.client.get("/search", params={"city": "Paris", param: digits})
    assert response.status_code == 400
    # The summary names the field (the page number is no input of the form, so only there).
    assert f'<a href="#{field}">' in response.text
