"""Accessibility and the phone layout, measured in a real browser on the real stack:
axe-core on every page (no serious or critical violation), the error summary a refused
form opens with, the focus ring's contrast, the whole booking by keyboard alone, the
results on a phone, and a sign-up that leaves the traveller signed in.

axe-core comes in the `axe-playwright-python` wheel and is injected into each page from
there: nothing is fetched while the tests run.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import pytest
from axe_playwright_python.async_playwright import Axe

from tests.browser.conftest import DESKTOP, PHONE, screenshot_path
from tests.browser.test_booking import (
    MISSING,
    SETTLE_TIMEOUT_MS,
    SUCCESS_CARD,
    _grant_operator,
    _pay,
    _verify_email,
)
from tests.support.stack import StackProcess, running_stack

pytestmark = pytest.mark.skipif(
    bool(MISSING),
    reason=f"the booking pages need {', '.join(MISSING)} in components.registry.COMPONENTS",
)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StackProcess]:
    """The whole stack, given as long to start as the booking paths' (a busy machine)."""
    var_dir = tmp_path_factory.mktemp("accessibility-stack")
    # Every test here signs up from 127.0.0.1, more often than a visitor may.
    env = {"WEB_SESSION_SECRET": "browser-test-secret", "WEB_RATE_LIMIT_SCALE": "20"}
    with running_stack(var_dir, env, ready_timeout=300) as running:
        yield running


PASSWORD = "a long test password"  # noqa: S105 - a test account's
BAD_IMPACTS = ("serious", "critical")
AXE = Axe()

# The focused element, as a keyboard user meets it: its tag, the name its label (or text)
# gives it, and whether it sits in a hotel of the results.
FOCUSED = """() => {
  const el = document.activeElement;
  if (!el || el === document.body) return {tag: "", name: "", hotel: false};
  const name = el.labels && el.labels.length ? el.labels[0].textContent
    : (el.getAttribute("aria-label") || el.textContent || "");
  return {tag: el.tagName, name: name.trim().replace(/\\s+/g, " "),
          hotel: !!el.closest("li.card.hotel")};
}"""

# The focused element's ring: its style, width, and its contrast with what is behind it
# (the ring sits outside the element, on its parent's background).
RING = """() => {
  const el = document.activeElement;
  if (!el || el === document.body) return null;
  const rgba = (text) => {
    const parts = text.match(/rgba?\\(([^)]+)\\)/)[1].split(",").map(parseFloat);
    return {r: parts[0], g: parts[1], b: parts[2], a: parts.length > 3 ? parts[3] : 1};
  };
  const luminance = ({r, g, b}) => {
    const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  };
  let behind = {r: 255, g: 255, b: 255, a: 1};
  for (let node = el.parentElement; node; node = node.parentElement) {
    const colour = rgba(getComputedStyle(node).backgroundColor);
    if (colour.a > 0) { behind = colour; break; }
  }
  const style = getComputedStyle(el);
  const [hi, lo] = [luminance(rgba(style.outlineColor)), luminance(behind)].sort((a, b) => b - a);
  return {what: el.tagName + " " + (el.textContent || el.id || "").trim().slice(0, 40),
          style: style.outlineStyle, width: parseFloat(style.outlineWidth),
          ratio: (hi + 0.05) / (lo + 0.05)};
}"""


async def assert_accessible(page: Any, what: str) -> None:
    """axe-core on the page as it stands: no serious or critical violation."""
    results = await AXE.run(page)
    found = [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
        for v in results.response["violations"]
        if v["impact"] in BAD_IMPACTS
    ]
    assert found == [], f"{what} ({page.url}): {found}"


async def assert_fits(page: Any, width: int) -> None:
    """Nothing wider than the screen: no sideways scrolling, every control in view."""
    assert await page.evaluate("document.documentElement.scrollWidth") <= width, page.url
    controls = page.locator("main input:not([type=hidden]), main select, main button")
    for index in range(await controls.count()):
        box = await controls.nth(index).bounding_box()
        if box is not None:
            assert box["x"] >= 0 and box["x"] + box["width"] <= width, (page.url, index, box)


def _stay() -> tuple[date, date]:
    check_in = date.today() + timedelta(days=30 + uuid.uuid4().int % 200)
    return check_in, check_in + timedelta(days=2)


def _results_url(stack: StackProcess, guests: int = 1) -> str:
    check_in, check_out = _stay()
    return (
        f"{stack.url('web')}/search?city=Paris&check_in={check_in}"
        f"&check_out={check_out}&guests={guests}"
    )


async def _sign_up(page: Any, stack: StackProcess) -> str:
    """The sign-up form, which leaves the new traveller signed in on the home page."""
    email = f"a11y-{uuid.uuid4().hex[:8]}@example.com"
    await page.goto(stack.url("web") + "/signup")
    await page.get_by_label("Your name").fill("Ada Lovelace")
    await page.get_by_label("E-mail address").fill(email)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign up").click()
    await page.wait_for_url(stack.url("web") + "/")
    return email


async def test_sign_up_signs_the_traveller_in_and_no_page_asks_them_to_log_in(stack, browser):
    context = await browser.new_context(viewport=PHONE)
    try:
        page = await context.new_page()
        await page.goto(stack.url("web") + "/signup")
        await assert_fits(page, PHONE["width"])
        email = await _sign_up(page, stack)
        # Signed in by the sign-up itself: no sign-in form on the way, no password twice.
        await page.get_by_text("Your account is ready.").wait_for()
        assert await page.get_by_role("button", name="Log out").count() == 1
        await _verify_email(page, stack, email)
        await page.goto(_results_url(stack))
        await page.locator("li.card.hotel h2 a").first.click()
        await page.wait_for_url(re.compile(r"/hotels/\d+"))
        hotel = page.url
        for url in (
            stack.url("web") + "/",
            _results_url(stack),
            hotel,
            stack.url("web") + "/bookings",
        ):
            await page.goto(url)
            assert await page.get_by_role("link", name=re.compile("log in", re.I)).count() == 0
            assert "log in" not in (await page.locator("main").inner_text()).lower(), url
            assert await page.get_by_role("button", name="Log out").count() == 1
            await assert_fits(page, PHONE["width"])
        await page.screenshot(path=screenshot_path("signed-up-phone"))
    finally:
        await context.close()

    # The sign-in page of the auth service fits a phone too.
    context = await browser.new_context(viewport=PHONE)
    try:
        page = await context.new_page()
        await page.goto(stack.url("web") + "/auth/login")
        await page.wait_for_url(re.compile(re.escape(stack.url("auth"))))
        await assert_fits(page, PHONE["width"])
    finally:
        await context.close()


async def test_every_page_has_no_serious_or_critical_axe_violation(stack, page, browser):
    web = stack.url("web")
    # A visitor's pages.
    for url in (
        web + "/",
        web + "/search?city=Atlantis",
        _results_url(stack),
        web + "/signup",
        web + "/account/forgot-password",
        web + "/account/reset-password?token=not-a-token",
        web + "/no-such-page",
    ):
        await page.goto(url)
        await assert_accessible(page, url)
    await page.goto(_results_url(stack))
    await page.set_viewport_size(PHONE)
    await assert_accessible(page, "results on a phone")
    await page.set_viewport_size(DESKTOP)
    await page.locator("li.card.hotel h2 a").first.click()
    await page.wait_for_url(re.compile(r"/hotels/\d+"))
    await assert_accessible(page, "hotel")
    await page.goto(web + "/signup")
    await page.get_by_role("button", name="Sign up").click()
    await page.locator("#error-summary").wait_for()
    await assert_accessible(page, "sign-up refused")
    await page.goto(web + "/auth/login")
    await page.wait_for_url(re.compile(re.escape(stack.url("auth"))))
    await assert_accessible(page, "sign-in")
    await page.get_by_label("E-mail address").fill("nobody@example.com")
    await page.get_by_label("Password").fill("not the password")
    await page.get_by_role("button", name="Sign in").click()
    await page.get_by_role("alert").wait_for()
    await assert_accessible(page, "sign-in refused")

    # A traveller's booking, from the book page to the cancelled booking.
    email = await _sign_up(page, stack)
    await assert_accessible(page, "home, signed in")
    await _verify_email(page, stack, email)
    await page.goto(_results_url(stack))
    await page.locator("li.card.hotel h2 a").first.click()
    await page.get_by_role("link", name="Book this room").first.click()
    await page.wait_for_url(re.compile(r"/book\?"))
    await assert_accessible(page, "book")
    await page.get_by_role("button", name=re.compile("Hold the room")).click()
    await page.wait_for_url(re.compile(r"/bookings/\w+/checkout"))
    booking_id = re.search(r"/bookings/(\w+)/checkout", page.url).group(1)
    await assert_accessible(page, "checkout")
    await page.get_by_role("button", name=re.compile("^Pay")).click()
    await page.locator("#error-summary").wait_for()
    await assert_accessible(page, "checkout refused")
    await _pay(page, SUCCESS_CARD)
    await page.get_by_role("heading", name="Your booking is confirmed").wait_for(
        timeout=SETTLE_TIMEOUT_MS
    )
    # Once settled: until then the page reloads itself as the saga moves on.
    await page.get_by_role("link", name=re.compile("Download the receipt")).wait_for(
        timeout=SETTLE_TIMEOUT_MS
    )
    await page.locator("ol.progress[data-settled='true']").wait_for()
    await assert_accessible(page, "booking confirmed")
    await page.goto(web + "/bookings")
    await assert_accessible(page, "my bookings")
    await page.goto(f"{web}/bookings/{booking_id}/cancel")
    await assert_accessible(page, "cancel")
    await page.get_by_role("button", name=re.compile("Cancel the booking")).click()
    await page.get_by_role("heading", name="Your booking is cancelled").wait_for(
        timeout=SETTLE_TIMEOUT_MS
    )
    await page.get_by_role("link", name="Download the cancellation note (PDF)").wait_for(
        timeout=SETTLE_TIMEOUT_MS
    )
    await page.locator("ol.progress[data-settled='true']").wait_for()
    await assert_accessible(page, "booking cancelled")

    # The operator pages.
    _grant_operator(stack, email)
    await page.goto(web + "/auth/login?as=operator&next=/ops")
    await page.get_by_label("E-mail address").fill(email)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_url(re.compile(re.escape(web) + "/ops$"))
    await assert_accessible(page, "operations")
    await page.goto(f"{web}/ops/bookings/{booking_id}")
    await assert_accessible(page, "operations: one booking")


async def test_a_refused_form_moves_focus_to_a_summary_naming_each_field(stack, page):
    await page.goto(stack.url("web") + "/signup")
    await page.get_by_label("E-mail address").fill("not an address")
    await page.get_by_role("button", name="Sign up").click()
    summary = page.locator("#error-summary")
    await summary.wait_for()
    assert await page.evaluate("document.activeElement.id") == "error-summary"
    text = await summary.inner_text()
    for label in ("Your name", "E-mail address", "Password"):
        assert label in text, text
    await summary.get_by_role("link", name=re.compile("^E-mail address")).click()
    assert await page.evaluate("document.activeElement.id") == "email"
    await page.screenshot(path=screenshot_path("sign-up-refused"))

    # A stay over a year ahead, on a phone: the folded search opens on the field to fix.
    await page.set_viewport_size(PHONE)
    far = date.today() + timedelta(days=400)
    await page.goto(
        f"{stack.url('web')}/search?city=Paris&check_in={far}"
        f"&check_out={far + timedelta(days=2)}&guests=2"
    )
    await summary.wait_for()
    assert await page.evaluate("document.activeElement.id") == "error-summary"
    await summary.get_by_role("link", name=re.compile("^Check-in")).click()
    assert await page.evaluate("document.activeElement.id") == "check_in"
    assert await page.locator("details#filters").evaluate("fold => fold.open")


async def test_the_focus_ring_reaches_3_to_1_contrast(stack, page):
    await page.goto(_results_url(stack))
    results = page.url
    for url in (stack.url("web") + "/", results, stack.url("web") + "/signup"):
        await page.goto(url)
        seen = 0
        for _ in range(40):
            await page.keyboard.press("Tab")
            ring = await page.evaluate(RING)
            if ring is None:
                break  # past the last control: the focus has left the page
            seen += 1
            assert ring["style"] != "none" and ring["width"] >= 2, (url, ring)
            assert ring["ratio"] >= 3, (url, ring)
        assert seen >= 5, url
    # And on the auth service's sign-in page.
    await page.goto(stack.url("web") + "/auth/login")
    await page.wait_for_url(re.compile(re.escape(stack.url("auth"))))
    for _ in range(6):
        await page.keyboard.press("Tab")
        ring = await page.evaluate(RING)
        if ring is None:
            break
        assert ring["style"] != "none" and ring["width"] >= 2, ring
        assert ring["ratio"] >= 3, ring


async def _tab_to(page: Any, tag: str, name: str, hotel: bool = False, limit: int = 80) -> None:
    """Press Tab until the focus is on a `tag` whose name matches `name`."""
    seen = []
    for _ in range(limit):
        await page.keyboard.press("Tab")
        focused = await page.evaluate(FOCUSED)
        seen.append(f"{focused['tag']}:{focused['name']}")
        if (
            focused["tag"] == tag
            and re.search(name, focused["name"])
            and (focused["hotel"] or not hotel)
        ):
            return
    raise AssertionError(f"Tab never reached {tag} {name!r} on {page.url}: {seen}")


async def _type_into(page: Any, tag: str, name: str, text: str) -> None:
    await _tab_to(page, tag, name)
    await page.keyboard.press("Control+A")
    await page.keyboard.type(text)


async def test_the_whole_booking_by_keyboard_alone(stack, browser):
    context = await browser.new_context(viewport=DESKTOP, locale="en-US")
    try:
        page = await context.new_page()
        email = f"keys-{uuid.uuid4().hex[:8]}@example.com"
        await page.goto(stack.url("web") + "/signup")
        await _type_into(page, "INPUT", "^Your name", "Ada Lovelace")
        await _type_into(page, "INPUT", "^E-mail address", email)
        await _type_into(page, "INPUT", "^Password", PASSWORD)
        await _tab_to(page, "BUTTON", "^Sign up$")
        await page.keyboard.press("Enter")
        await page.wait_for_url(stack.url("web") + "/")
        await _verify_email(page, stack, email)  # opening the e-mailed link

        check_in, check_out = _stay()
        await page.goto(stack.url("web") + "/")
        await _type_into(page, "INPUT", "^City", "Paris")
        await page.keyboard.press("Escape")  # close the suggestions
        await _type_into(page, "INPUT", "^Check-in", check_in.strftime("%m%d%Y"))
        await _type_into(page, "INPUT", "^Check-out", check_out.strftime("%m%d%Y"))
        await _type_into(page, "INPUT", "^Guests", "1")
        await _tab_to(page, "BUTTON", "^Search$")
        await page.keyboard.press("Enter")
        await page.wait_for_url(re.compile(r"/search\?"))
        assert f"check_in={check_in}" in page.url, page.url

        await _tab_to(page, "A", ".", hotel=True)
        await page.keyboard.press("Enter")
        await page.wait_for_url(re.compile(r"/hotels/\d+"))
        await _tab_to(page, "A", "^Book this room$")
        await page.keyboard.press("Enter")
        await page.wait_for_url(re.compile(r"/book\?"))
        await _tab_to(page, "INPUT", "^Guest's name")
        assert await page.get_by_label("Guest's name").input_value() == "Ada Lovelace"
        await _tab_to(page, "BUTTON", "^Hold the room")
        await page.keyboard.press("Enter")
        await page.wait_for_url(re.compile(r"/bookings/\w+/checkout"))

        await _type_into(page, "INPUT", "^Name on the card", "Ada Lovelace")
        await _type_into(page, "INPUT", "^Card number", SUCCESS_CARD)
        await _type_into(page, "INPUT", "^Expiry month", "12")
        await _type_into(page, "INPUT", "^Expiry year", str(date.today().year + 2))
        await _type_into(page, "INPUT", "^Security code", "123")
        await _tab_to(page, "BUTTON", "^Pay")
        await page.keyboard.press("Enter")
        await page.wait_for_url(re.compile(r"/bookings/\w+$"))
        await page.get_by_role("heading", name="Your booking is confirmed").wait_for(
            timeout=SETTLE_TIMEOUT_MS
        )
    finally:
        await context.close()


async def test_on_a_phone_the_first_hotel_is_on_the_first_screen_and_filters_fold(stack, browser):
    context = await browser.new_context(viewport=PHONE)
    try:
        page = await context.new_page()
        await page.goto(_results_url(stack, guests=2))
        first = page.locator("li.card.hotel").first
        await first.wait_for()
        assert not await page.locator("details#filters").evaluate("fold => fold.open")
        assert await page.get_by_label("City").is_hidden()
        # The results come before the filters in the page, not only on the screen.
        order = await page.evaluate(
            "document.querySelector('section.results').compareDocumentPosition("
            "document.querySelector('aside.filters')) & Node.DOCUMENT_POSITION_FOLLOWING"
        )
        assert order
        box = await first.bounding_box()
        assert box["y"] >= 0 and box["y"] + box["height"] <= PHONE["height"], box
        await assert_fits(page, PHONE["width"])
        await page.screenshot(path=screenshot_path("results-phone-first-screen"))

        await page.get_by_role("link", name="Change the stay, filter or sort").click()
        assert await page.get_by_label("City").is_visible()

        # Wider screens: the filters open beside the results, on their left.
        await page.set_viewport_size(DESKTOP)
        assert await page.locator("details#filters").evaluate("fold => fold.open")
        filters = await page.locator("aside.filters").bounding_box()
        results = await page.locator("section.results").bounding_box()
        assert filters["x"] + filters["width"] <= results["x"]
    finally:
        await context.close()
