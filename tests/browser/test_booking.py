"""The booking paths in a real browser on the real stack: success, declined then paid,
expiry, cancel.

They need every service of the saga running under `staysaga up`; until those are in
`COMPONENTS` they skip, and they switch on by themselves once merged.
"""

from __future__ import annotations

import re
import subprocess
import sys
import uuid
from datetime import date, timedelta

import httpx
import pytest

from components.registry import COMPONENTS
from tests.browser.conftest import DESKTOP, screenshot_path
from tests.support.harness import eventually
from tests.support.stack import MARKER, StackProcess, running_stack

NEEDED = ("auth", "users", "reservations", "payments", "pdf", "bank", "mailsink")
MISSING = [name for name in NEEDED if name not in COMPONENTS]
pytestmark = pytest.mark.skipif(
    bool(MISSING),
    reason=f"the booking paths need {', '.join(MISSING)} in components.registry.COMPONENTS",
)

# Contract points owned by other parts; align them here if their owners chose otherwise.
SUCCESS_CARD = "4242424242424242"  # the simulated bank's always-approved card
DECLINED_CARD = "4000000000000002"  # ... and its always-declined card
HOLD_TTL_VARIABLE = "RESERVATIONS_HOLD_TTL_SECONDS"  # the hold's TTL (the saga follows it)
HOLD_TTL_SECONDS = "30"
SETTLE_TIMEOUT_MS = 90_000


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """The whole stack with a short hold TTL, so the expiry path runs in seconds."""
    var_dir = tmp_path_factory.mktemp("booking-stack")
    with running_stack(
        var_dir,
        {
            "WEB_SESSION_SECRET": "browser-test-secret",
            HOLD_TTL_VARIABLE: HOLD_TTL_SECONDS,
            # Every test here signs up from 127.0.0.1, more often than a visitor may.
            "WEB_RATE_LIMIT_SCALE": "20",
        },
        ready_timeout=300,
    ) as running:
        yield running


async def _sign_up_and_log_in(page, stack: StackProcess) -> str:
    """A new traveller: the website's sign-up form signs them in (through the auth
    service, without a second password prompt)."""
    email = f"traveller-{uuid.uuid4().hex[:8]}@example.com"
    password = "a long test password"
    await page.goto(stack.url("web") + "/signup")
    await page.get_by_label("Your name").fill("Ada Lovelace")
    await page.get_by_label("E-mail address").fill(email)
    await page.get_by_label("Password").fill(password)
    await page.get_by_role("button", name="Sign up").click()
    await page.wait_for_url(stack.url("web") + "/")
    assert await page.get_by_role("button", name="Log out").count() == 1
    await _verify_email(page, stack, email)
    return email


async def _verify_email(page, stack: StackProcess, email: str) -> None:
    """Open the link of the verification e-mail, as the traveller would: paying needs it."""
    mailsink = stack.url("mailsink")

    async def link() -> str:
        async with httpx.AsyncClient() as http:
            inbox = await http.get(f"{mailsink}/api/messages", params={"to": email})
            (mail,) = [m for m in inbox.json()["items"] if "Confirm" in m["subject"]]
            detail = (await http.get(f"{mailsink}/api/messages/{mail['id']}")).json()
        found = re.search(r"https?://\S+/account/verify-email\?token=[\w.%-]+", detail["text"])
        assert found, detail["text"]
        return found.group(0)

    await page.goto(await eventually(link, timeout=60))
    await page.get_by_text("Your e-mail address is confirmed.").wait_for()


async def _hold_a_room(page, stack: StackProcess, on_the_book_page=None) -> str:
    """Search Paris, open a hotel, book its first available room; returns the booking id.
    `on_the_book_page(page)`, if given, looks at the booking form first."""
    check_in = date.today() + timedelta(days=30 + uuid.uuid4().int % 200)
    check_out = check_in + timedelta(days=2)
    await page.goto(
        f"{stack.url('web')}/search?city=Paris&check_in={check_in}&check_out={check_out}&guests=1"
    )
    await page.locator("li.card.hotel h2 a").first.click()
    await page.get_by_role("link", name="Book this room").first.click()
    if on_the_book_page is not None:
        await on_the_book_page(page)
    await page.get_by_label("Guest's name").fill("Ada Lovelace")
    await page.get_by_role("button", name=re.compile("Hold the room")).click()
    await page.wait_for_url(re.compile(r"/bookings/\w+/checkout"))
    await page.wait_for_selector("time[data-countdown]")
    return re.search(r"/bookings/(\w+)/checkout", page.url).group(1)


async def _pay(page, card: str, then: str = r"/bookings/\w+$") -> None:
    await page.get_by_label("Name on the card").fill("Ada Lovelace")
    await page.get_by_label("Card number").fill(card)
    await page.get_by_label("Expiry month").fill("12")
    await page.get_by_label("Expiry year").fill(str(date.today().year + 2))
    await page.get_by_label("Security code").fill("123")
    await page.get_by_role("button", name=re.compile("^Pay")).click()
    await page.wait_for_url(re.compile(then))


async def test_success_books_pays_confirms_and_emails_the_receipt(stack, page):
    await _sign_up_and_log_in(page, stack)
    booking_id = await _hold_a_room(page, stack)
    await page.screenshot(path=screenshot_path("checkout"), full_page=True)
    await _pay(page, SUCCESS_CARD)
    await page.get_by_role("heading", name="Your booking is confirmed").wait_for(
        timeout=SETTLE_TIMEOUT_MS
    )
    receipt = page.get_by_role("link", name=re.compile("Download the receipt"))
    await receipt.wait_for(timeout=SETTLE_TIMEOUT_MS)
    await page.screenshot(path=screenshot_path("confirmation"), full_page=True)
    async with page.expect_download() as download:
        await receipt.click()
    assert (await download.value).suggested_filename.endswith(".pdf")
    await _assert_no_operator_tool(page, stack, booking_id)

    inbox = await page.context.new_page()

    async def receipt_mail_arrived() -> None:
        await inbox.goto(stack.url("mailsink") + "/")
        assert await inbox.get_by_role("link", name=re.compile("Booking confirmed")).count()

    await eventually(receipt_mail_arrived, timeout=SETTLE_TIMEOUT_MS / 1000)
    await inbox.screenshot(path=screenshot_path("mail-inbox"), full_page=True)
    await inbox.get_by_role("link", name=re.compile("Booking confirmed")).first.click()
    assert "receipt.pdf" in await inbox.content()
    await inbox.screenshot(path=screenshot_path("mail-receipt"), full_page=True)

    await page.goto(stack.url("web") + "/bookings")
    assert booking_id[:8] in await page.content()
    await _assert_no_operator_tool(page, stack, booking_id)
    await page.screenshot(path=screenshot_path("my-bookings"), full_page=True)


async def _assert_no_operator_tool(page, stack: StackProcess, booking_id: str) -> None:
    """A traveller's page: no Temporal UI link, no workflow id, no way to the operator pages."""
    content = await page.content()
    assert f"127.0.0.1:{stack.env['TEMPORAL_UI_PORT']}" not in content
    assert f"booking-{booking_id}" not in content and "Temporal" not in content
    assert await page.locator('a[href^="/ops"]').count() == 0


async def test_a_declined_card_keeps_the_room_and_another_card_confirms(stack, page):
    await _sign_up_and_log_in(page, stack)
    booking_id = await _hold_a_room(page, stack)
    await _pay(page, DECLINED_CARD, then=rf"/bookings/{booking_id}/checkout$")
    declined = page.get_by_role("alert").filter(has_text="Your card was declined.")
    await declined.wait_for(timeout=SETTLE_TIMEOUT_MS)
    assert "still held for you" in await declined.inner_text()
    assert await page.locator("time[data-countdown]").count() == 1
    assert await page.get_by_role("link", name="Try again").count() == 0
    await page.screenshot(path=screenshot_path("declined"), full_page=True)
    await _pay(page, SUCCESS_CARD, then=rf"/bookings/{booking_id}$")
    await page.get_by_role("heading", name="Your booking is confirmed").wait_for(
        timeout=SETTLE_TIMEOUT_MS
    )

    async def one_booking_listed() -> None:
        await page.goto(stack.url("web") + "/bookings")
        listed = set(re.findall(r'href="/bookings/(\w+)', await page.content()))
        assert listed == {booking_id}

    # The same booking (and so the same hold) from the declined card to the confirmation.
    await eventually(one_booking_listed, timeout=30, interval=1.0)


async def test_unpaid_hold_expires(stack, page):
    await _sign_up_and_log_in(page, stack)
    booking_id = await _hold_a_room(page, stack)

    async def expired() -> None:
        await page.goto(f"{stack.url('web')}/bookings/{booking_id}")
        assert "Nothing was charged." in await page.content()

    await eventually(expired, timeout=int(HOLD_TTL_SECONDS) + 60, interval=1.0)
    assert "did not go through" in await page.content()
    await page.screenshot(path=screenshot_path("expired"), full_page=True)


async def test_cancel_shows_the_refund_then_cancels(stack, page):
    await _sign_up_and_log_in(page, stack)
    await _hold_a_room(page, stack)
    await _pay(page, SUCCESS_CARD)
    await page.get_by_role("heading", name="Your booking is confirmed").wait_for(
        timeout=SETTLE_TIMEOUT_MS
    )
    await page.get_by_role("link", name="Cancel this booking").click()
    refund = await page.locator(".refund").inner_text()
    assert re.match(r"[\d,]+\.\d\d [A-Z]{3}", refund)
    await page.screenshot(path=screenshot_path("cancel"), full_page=True)
    await page.get_by_role("button", name=re.compile("Cancel the booking")).click()
    await page.get_by_role("heading", name="Your booking is cancelled").wait_for(
        timeout=SETTLE_TIMEOUT_MS
    )


def _grant_operator(stack: StackProcess, email: str) -> str:
    """`staysaga users grant-operator EMAIL` against the stack's Users database: the id."""
    env = {k: v for k, v in stack.env.items() if k != MARKER}
    done = subprocess.run(
        [sys.executable, "-m", "staysaga.cli", "users", "grant-operator", email],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return re.search(r"\(account (\w+)\)", done.stdout).group(1)


async def test_an_operator_cancels_a_travellers_booking_on_ops_and_sees_who_did_it(
    stack, page, browser
):
    await _sign_up_and_log_in(page, stack)
    booking_id = await _hold_a_room(page, stack)
    await _pay(page, SUCCESS_CARD)
    await page.get_by_role("heading", name="Your booking is confirmed").wait_for(
        timeout=SETTLE_TIMEOUT_MS
    )
    await _assert_no_operator_tool(page, stack, booking_id)
    for path in ("/ops", f"/ops/bookings/{booking_id}"):
        refused = await page.goto(stack.url("web") + path)
        assert refused.status == 404
        assert "Temporal" not in await page.content()

    context = await browser.new_context(viewport=DESKTOP)
    try:
        operator = await context.new_page()
        email = await _sign_up_and_log_in(operator, stack)
        operator_id = _grant_operator(stack, email)
        # A traveller's session, though the account is an operator now.
        assert (await operator.goto(stack.url("web") + "/ops")).status == 404
        await operator.goto(stack.url("web") + "/auth/login?as=operator&next=/ops")
        await operator.get_by_label(re.compile(r"e-?mail", re.I)).fill(email)
        await operator.get_by_label(re.compile(r"password", re.I)).fill("a long test password")
        await operator.get_by_role("button", name=re.compile(r"sign in", re.I)).click()
        await operator.wait_for_url(re.compile(re.escape(stack.url("web")) + "/ops$"))
        await operator.goto(f"{stack.url('web')}/ops?status=CONFIRMED")
        await operator.get_by_role("link", name=booking_id).click()
        workflow = operator.get_by_role("link", name="Open its workflow in the Temporal UI")
        assert f"/workflows/booking-{booking_id}" in await workflow.get_attribute("href")
        await operator.get_by_label("Why", exact=True).first.fill("the hotel closed its doors")
        await operator.get_by_role("button", name="Cancel the booking").click()
        await operator.get_by_text("The booking is cancelled").wait_for(timeout=SETTLE_TIMEOUT_MS)
        actions = operator.locator(".operator-actions")
        assert "the hotel closed its doors" in await actions.inner_text()
        assert operator_id in await actions.inner_text()
        await operator.screenshot(path=screenshot_path("ops-booking"), full_page=True)
    finally:
        await context.close()

    await page.goto(f"{stack.url('web')}/bookings/{booking_id}")
    assert await page.get_by_role("heading", name="Your booking is cancelled").count() == 1


async def test_checkout_counts_down_to_the_payment_deadline_then_closes_the_card_form(stack, page):
    await _sign_up_and_log_in(page, stack)
    await _hold_a_room(page, stack)
    countdown = page.locator("time[data-countdown]")
    assert re.fullmatch(r"\d+:\d\d left to pay", await page.locator(".hold strong").inner_text())
    # The countdown is no live region; the status line stays quiet until the end.
    assert await page.locator('[role="status"] time[data-countdown]').count() == 0
    assert await page.locator("#pay-status").inner_text() == ""
    assert await page.get_by_label("Card number").is_enabled()
    # The short test hold: the saga's deadline comes a quarter of it before the expiry.
    await page.get_by_text("The time to pay has run out").wait_for(
        timeout=int(HOLD_TTL_SECONDS) * 1000
    )
    assert await countdown.inner_text() == "0:00"
    assert await page.get_by_label("Card number").is_disabled()
    assert await page.get_by_role("button", name=re.compile("^Pay")).is_disabled()
    await page.screenshot(path=screenshot_path("checkout-time-out"), full_page=True)


async def test_book_and_checkout_show_the_cancellation_policy_before_paying(stack, page):
    await _sign_up_and_log_in(page, stack)
    on_the_book_page = []

    async def read_policy(book_page) -> None:
        on_the_book_page.append(await book_page.locator(".policy").inner_text())

    await _hold_a_room(page, stack, read_policy)
    policy = await page.locator(".policy").inner_text()
    assert on_the_book_page == [policy]
    assert re.match(r"Free cancellation until \d+ \w+ \d{4}, \d\d:\d\d UTC", policy)
    assert "the first night" in policy


async def test_a_card_number_the_bank_refuses_is_explained_in_words(stack, page):
    await _sign_up_and_log_in(page, stack)
    await _hold_a_room(page, stack)
    await page.get_by_label("Name on the card").fill("Ada Lovelace")
    await page.get_by_label("Card number").fill("4242424242424241")  # fails the Luhn check
    await page.get_by_label("Expiry month").fill("12")
    await page.get_by_label("Expiry year").fill(str(date.today().year + 2))
    await page.get_by_label("Security code").fill("123")
    await page.get_by_role("button", name=re.compile("^Pay")).click()
    error = page.locator("#number-error")
    await error.wait_for()
    assert (await error.inner_text()).startswith("This card number is not valid")
    # Never the bank's raw field message ("number: is not a valid card number").
    assert "number: is not" not in await page.content()


async def test_going_back_from_checkout_reuses_the_hold_and_release_gives_it_up(stack, page):
    await _sign_up_and_log_in(page, stack)
    booking_id = await _hold_a_room(page, stack)
    await page.go_back()
    await page.get_by_role("button", name=re.compile("Hold the room")).click()
    await page.wait_for_url(re.compile(r"/bookings/\w+/checkout"))
    assert f"/bookings/{booking_id}/checkout" in page.url
    await page.get_by_role("button", name="Release this room").click()
    await page.wait_for_url(re.compile(rf"/bookings/{booking_id}$"))
    await page.get_by_text("The room is released. Nothing was charged.").wait_for()
    await page.get_by_role("heading", name="Your booking is cancelled").wait_for(
        timeout=SETTLE_TIMEOUT_MS
    )


async def test_the_pages_name_what_was_booked_and_a_cancelled_booking_offers_its_note(stack, page):
    await _sign_up_and_log_in(page, stack)
    booking_id = await _hold_a_room(page, stack)
    hotel = (await page.locator("dd.hotel").inner_text()).strip()
    room = (await page.locator("dd.room").inner_text()).strip()
    total = (await page.locator("dd.total").inner_text()).strip()
    assert hotel and room and re.fullmatch(r"[\d,]+\.\d\d [A-Z]{3}", total)
    assert (await page.locator("dd.nights").inner_text()).startswith("2 nights")
    assert await page.locator("dd.state").inner_text() == "Awaiting payment"
    assert booking_id not in await page.locator("main").inner_text()

    await _pay(page, SUCCESS_CARD)
    await page.get_by_role("heading", name="Your booking is confirmed").wait_for(
        timeout=SETTLE_TIMEOUT_MS
    )

    async def named_in_my_bookings() -> None:
        # The list comes from Temporal's visibility, which may lag the booking a moment.
        await page.goto(stack.url("web") + "/bookings")
        cards = page.locator("li.card.booking")
        assert await cards.count() == 1, await page.locator("main").inner_text()
        listed = await cards.first.inner_text()
        for shown in (hotel, room, total, "2 nights", "Confirmed"):
            assert shown in listed, (shown, listed)

    await eventually(named_in_my_bookings, timeout=30, interval=1.0)
    assert booking_id not in await page.locator("main").inner_text()
    await page.screenshot(path=screenshot_path("my-bookings-named"), full_page=True)

    await page.goto(f"{stack.url('web')}/bookings/{booking_id}/cancel")
    await page.get_by_role("button", name=re.compile("Cancel the booking")).click()
    await page.get_by_role("heading", name="Your booking is cancelled").wait_for(
        timeout=SETTLE_TIMEOUT_MS
    )
    # The page follows the cancellation live, and offers the note once it is drawn.
    note = page.get_by_role("link", name="Download the cancellation note (PDF)")
    await note.wait_for(timeout=SETTLE_TIMEOUT_MS)
    progress = await page.locator("ol.progress").inner_text()
    assert "Refund sent to your card" in progress and "Cancellation note e-mailed" in progress
    assert await page.get_by_role("link", name=re.compile("receipt", re.I)).count() == 0
    assert await page.locator("dd.refunded").count() == 1
    await page.screenshot(path=screenshot_path("cancelled"), full_page=True)
    async with page.expect_download() as download:
        await note.click()
    assert (await download.value).suggested_filename.endswith(".pdf")
