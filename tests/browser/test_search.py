"""In a real browser, on the real stack: home -> search Paris -> results -> hotel page."""

import re
from datetime import date, timedelta

from tests.browser.conftest import DESKTOP, PHONE, screenshot_path


async def test_search_paris_then_open_a_hotel(stack, page):
    check_in = date.today() + timedelta(days=14)
    check_out = check_in + timedelta(days=3)
    assert re.search(rf"website +{re.escape(stack.url('web'))}/", stack.output)
    await page.goto(stack.url("web") + "/")
    await page.set_viewport_size(PHONE)
    await page.screenshot(path=screenshot_path("home-phone"), full_page=True)
    await page.set_viewport_size(DESKTOP)
    await page.get_by_label("City").fill("Pari")
    # The autocomplete script fills the datalist from Search, each city with its country.
    await page.wait_for_selector(
        "#city-suggestions option[value='Paris, France']", state="attached"
    )
    await page.get_by_label("City").fill("Paris")
    await page.get_by_label("Check-in").fill(check_in.isoformat())
    await page.get_by_label("Check-out").fill(check_out.isoformat())
    await page.get_by_label("Guests").fill("2")
    await page.screenshot(path=screenshot_path("home"), full_page=True)

    await page.get_by_role("button", name="Search").click()
    await page.wait_for_url(re.compile(r"/search\?"))
    heading = await page.get_by_role("heading", level=1).inner_text()
    assert heading.startswith("Hotels in Paris")
    hotels = page.locator("li.card.hotel")
    assert await hotels.count() >= 1
    assert "for 3 nights" in await hotels.first.inner_text()
    await page.screenshot(path=screenshot_path("results"), full_page=True)

    await page.set_viewport_size(PHONE)
    await page.screenshot(path=screenshot_path("results-phone"), full_page=True)
    await page.set_viewport_size(DESKTOP)

    name = await hotels.first.locator("h2 a").inner_text()
    await hotels.first.locator("h2 a").click()
    await page.wait_for_url(re.compile(r"/hotels/\d+"))
    assert await page.get_by_role("heading", level=1).inner_text() == name
    assert await page.locator("li.card.room").count() >= 1
    assert f"check_in={check_in.isoformat()}" in page.url
    await page.screenshot(path=screenshot_path("hotel"), full_page=True)


async def test_pages_carry_the_security_headers(stack, page):
    response = await page.goto(stack.url("web") + "/")
    headers = await response.all_headers()
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert headers["x-content-type-options"] == "nosniff"


async def test_a_stay_over_a_year_ahead_is_explained_and_the_dates_are_bounded(stack, page):
    check_in = date.today() + timedelta(days=400)
    await page.goto(
        f"{stack.url('web')}/search?city=Paris&check_in={check_in}"
        f"&check_out={check_in + timedelta(days=2)}&guests=2"
    )
    error = page.locator("#check_in-error")
    assert (await error.inner_text()).startswith("Rooms can be booked up to a year ahead")
    assert "unavailable" not in await page.content()
    field = page.get_by_label("Check-in")
    assert await field.get_attribute("min") == date.today().isoformat()
    assert await field.get_attribute("max") == (date.today() + timedelta(days=365)).isoformat()


async def test_results_by_price_show_the_stays_totals_in_order(stack, page):
    check_in = date.today() + timedelta(days=21)
    await page.goto(
        f"{stack.url('web')}/search?city=Paris&check_in={check_in}"
        f"&check_out={check_in + timedelta(days=2)}&guests=2&sort=price"
    )
    prices = await page.locator("li.card.hotel .price").all_inner_texts()
    assert prices and all(", 2 guests" in p for p in prices)
    totals = [float(re.match(r"\s*([\d,]+\.\d\d)", p).group(1).replace(",", "")) for p in prices]
    assert totals == sorted(totals)
    assert all(re.search(r"room(s)? left|Available", p) for p in prices)


async def test_a_room_too_small_for_the_party_says_so(stack, page):
    check_in = date.today() + timedelta(days=28)
    stay = f"check_in={check_in}&check_out={check_in + timedelta(days=2)}"
    await page.goto(f"{stack.url('web')}/search?city=Paris&{stay}&guests=1")
    await page.locator("li.card.hotel h2 a").first.click()
    await page.wait_for_url(re.compile(r"/hotels/\d+"))
    sleeps = [
        int(re.search(r"sleeps (\d+)", t).group(1))
        for t in await page.locator("li.card.room .meta").all_inner_texts()
    ]
    party = min(sleeps) + 1
    await page.goto(re.sub(r"guests=\d+", f"guests={party}", page.url))
    small = page.locator("li.card.room").filter(has_text=f"sleeps {min(sleeps)}").first
    text = await small.inner_text()
    assert "Too small for your party" in text and "Sold out" not in text


async def test_the_hotel_page_shows_its_cancellation_policy_for_the_dates(stack, page):
    check_in = date.today() + timedelta(days=35)
    stay = f"check_in={check_in}&check_out={check_in + timedelta(days=2)}"
    await page.goto(f"{stack.url('web')}/search?city=Paris&{stay}&guests=2")
    await page.locator("li.card.hotel h2 a").first.click()
    await page.wait_for_url(re.compile(r"/hotels/\d+"))
    policy = await page.locator(".policy").inner_text()
    assert re.match(r"Free cancellation until \d+ \w+ \d{4}, \d\d:\d\d UTC", policy)
