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
    # The autocomplete script fills the datalist from Search.
    await page.wait_for_selector("#city-suggestions option[value='Paris']", state="attached")
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
