"""The live progress list, on a page of its own: the website's script against answers the
test gives in the order it chooses (no stack), so that a race is played the same way
every time."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from playwright.async_api import Page, Route

SITE_JS = Path(__file__).parents[2] / "web" / "static" / "site.js"
ORIGIN = "http://staysaga.test"
BOOKING_PAGE = """<!doctype html><html><head><title>booking</title></head><body>
<ol class="progress" data-events="/bookings/b1/events" data-settled="false">
  <li data-step="EMAILED" class="todo">Receipt e-mailed</li>
</ol>
<a id="cancel" href="/bookings/b1/cancel">Cancel this booking</a>
<script src="/static/site.js"></script></body></html>"""
CANCEL_PAGE = "<!doctype html><html><head><title>cancel</title></head><body>cancel</body></html>"


async def test_the_final_status_does_not_reload_over_a_travellers_click(page: Page):
    # The traveller clicks "Cancel" while the booking is still under way; the status that
    # ends it arrives before the cancel page does. Reloading then would keep them on the
    # booking page, their click lost.
    stream_opened, clicked, status_sent = asyncio.Event(), asyncio.Event(), asyncio.Event()
    cancel_requests: list[str] = []

    async def serve(route: Route) -> None:
        path = route.request.url.removeprefix(ORIGIN)
        if path == "/static/site.js":
            await route.fulfill(body=SITE_JS.read_text(), content_type="text/javascript")
        elif path == "/bookings/b1/events":
            stream_opened.set()
            await clicked.wait()
            status = {"state": "CONFIRMED", "steps": ["EMAILED"], "done": True}
            await route.fulfill(
                body=f"event: status\ndata: {json.dumps(status)}\n\n",
                content_type="text/event-stream",
            )
            status_sent.set()
        elif path == "/bookings/b1/cancel":
            cancel_requests.append(path)
            clicked.set()
            await status_sent.wait()  # the page has the status before the new page arrives
            await route.fulfill(body=CANCEL_PAGE, content_type="text/html")
        else:
            await route.fulfill(body=BOOKING_PAGE, content_type="text/html")

    await page.route(f"{ORIGIN}/**", serve)
    await page.goto(f"{ORIGIN}/bookings/b1")
    await asyncio.wait_for(stream_opened.wait(), 10)
    await page.click("#cancel")
    await page.wait_for_url(f"{ORIGIN}/bookings/b1/cancel", timeout=10_000)
    assert await page.title() == "cancel"
