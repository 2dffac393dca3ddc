"""Operating the real stack with traces on: one trace follows a booking from the website's
request to the database, and an operator goes from the /ops pages to the failed bookings
in the Temporal UI, then to a booking's trace.

The stack exports its spans over OTLP/HTTP to a receiver this module runs on 127.0.0.1,
as it would to a collector, Jaeger or Tempo.
"""

from __future__ import annotations

import re

import pytest

from components.registry import COMPONENTS
from tests.browser.conftest import DESKTOP, screenshot_path, skip_without_chromium
from tests.browser.test_booking import _grant_operator, _hold_a_room, _sign_up_and_log_in
from tests.support.harness import eventually
from tests.support.stack import running_stack
from tests.support.tracing import OtlpReceiver, Span, Trace

NEEDED = ("auth", "users", "reservations", "payments", "pdf", "bank", "mailsink")
MISSING = [name for name in NEEDED if name not in COMPONENTS]
pytestmark = pytest.mark.skipif(
    bool(MISSING),
    reason=f"the booking paths need {', '.join(MISSING)} in components.registry.COMPONENTS",
)

HOLD_TTL_SECONDS = 30
TRACE_VIEWER = "http://127.0.0.1:16686/trace/{trace_id}"
SETTLE_TIMEOUT_MS = 90_000


@pytest.fixture(scope="module")
def receiver():
    with OtlpReceiver() as running:
        yield running


@pytest.fixture(scope="module")
def stack(tmp_path_factory, receiver):
    """The whole stack tracing into `receiver`, with a short hold (bookings expire soon)."""
    skip_without_chromium()
    with running_stack(
        tmp_path_factory.mktemp("operations-stack"),
        {
            "WEB_SESSION_SECRET": "browser-test-secret",
            "WEB_RATE_LIMIT_SCALE": "20",
            "RESERVATIONS_HOLD_TTL_SECONDS": str(HOLD_TTL_SECONDS),
            "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint,
            # Spans leave each process within a fifth of a second, not five.
            "OTEL_BSP_SCHEDULE_DELAY": "200",
            "STAYSAGA_TRACE_URL": TRACE_VIEWER,
        },
        ready_timeout=300,
    ) as running:
        yield running


def _booking_trace(receiver: OtlpReceiver) -> Trace:
    """The trace of the website's booking request: the one whose request started the
    booking's workflow."""
    (start,) = [
        s
        for s in receiver.spans
        if s.service == "staysaga-web" and s.name == "StartWorkflow:BookingWorkflow"
    ]
    return receiver.trace(start.trace_id)


def _one(spans: list[Span], what: str) -> Span:
    assert len(spans) == 1, f"{what}: {spans}"
    return spans[0]


async def test_one_trace_follows_a_booking_from_the_website_to_the_database(stack, receiver, page):
    await _sign_up_and_log_in(page, stack)
    receiver.spans.clear()
    await _hold_a_room(page, stack)

    async def hold_traced_to_its_sql() -> tuple[Trace, Span]:
        found = _booking_trace(receiver)
        handler = _one(
            [s for s in found.named("staysaga-reservations") if s.name == "POST /holds"],
            "Reservations' handler of the hold",
        )
        statements = [
            s
            for s in found.named("staysaga-reservations")
            if "db.system" in s.attributes and handler in found.ancestors(s)
        ]
        assert statements, "the hold's SQL"
        # The website's request ends last: it waits for the hold before it answers.
        assert found.ancestors(statements[0])[-1].parent_id is None, "the website's request"
        return found, statements[0]

    found, sql = await eventually(hold_traced_to_its_sql, timeout=60)
    chain = [(s.service, s.name) for s in found.ancestors(sql)]
    # Database <- service handler <- the worker's HTTP call <- activity <- workflow <-
    # the website's request, every one the parent of the one before.
    assert chain[0] == ("staysaga-reservations", "POST /holds")
    assert chain[1][0] == "staysaga-worker-reservations" and chain[1][1].startswith("POST")
    assert chain[2:] == [
        ("staysaga-worker-reservations", "RunActivity:hold_room"),
        ("staysaga-worker-booking", "StartActivity:hold_room"),
        ("staysaga-web", "StartWorkflow:BookingWorkflow"),
        ("staysaga-web", "POST /book"),
    ]
    root = found.ancestors(sql)[-1]
    assert root.parent_id is None
    run = _one(found.named("staysaga-worker-booking", "RunWorkflow:"), "the workflow's run")
    assert found.ancestors(run)[-1] == root


async def test_an_operator_finds_a_failed_booking_in_the_temporal_ui_and_its_trace(
    stack, receiver, page, browser
):
    await _sign_up_and_log_in(page, stack)
    booking_id = await _hold_a_room(page, stack)

    async def expired() -> None:
        await page.goto(f"{stack.url('web')}/bookings/{booking_id}")
        assert "Nothing was charged." in await page.content()

    await eventually(expired, timeout=HOLD_TTL_SECONDS + 60, interval=1.0)

    context = await browser.new_context(viewport=DESKTOP)
    try:
        operator = await context.new_page()
        email = await _sign_up_and_log_in(operator, stack)
        _grant_operator(stack, email)
        await operator.goto(stack.url("web") + "/auth/login?as=operator&next=/ops")
        await operator.get_by_label(re.compile(r"e-?mail", re.I)).fill(email)
        await operator.get_by_label(re.compile(r"password", re.I)).fill("a long test password")
        await operator.get_by_role("button", name=re.compile(r"sign in", re.I)).click()
        await operator.wait_for_url(re.compile(re.escape(stack.url("web")) + "/ops$"))

        # From the operator pages to the Temporal UI's list of failed and expired bookings.
        await operator.get_by_role(
            "link", name="Failed and expired bookings in the Temporal UI"
        ).click()
        await operator.wait_for_url(re.compile(r"/namespaces/default/workflows\?query="))
        workflow_id = f"booking-{booking_id}"
        listed = operator.get_by_role("link", name=workflow_id)

        async def listed_in_the_ui() -> None:
            # Visibility catches up within a second or two; the UI lists what it has.
            if not await listed.count():
                await operator.reload()
            await listed.first.wait_for(timeout=3_000)

        await eventually(listed_in_the_ui, timeout=60, interval=0.5)
        await operator.screenshot(path=screenshot_path("temporal-failed-bookings"), full_page=True)
        await listed.first.click()
        await operator.wait_for_url(re.compile(re.escape(workflow_id)))
        await operator.get_by_text(workflow_id).first.wait_for()
        # A failed or expired booking is a completed workflow; its BookingStatus says why.
        await operator.get_by_text(re.compile(r"^\s*completed\s*$", re.I)).first.wait_for()
        await operator.screenshot(path=screenshot_path("temporal-failed-booking"), full_page=True)

        # Back on the booking's operator page: the trace it was booked in.
        await operator.goto(f"{stack.url('web')}/ops/bookings/{booking_id}")
        trace_id = (await operator.locator(".trace code").inner_text()).strip()
        assert re.fullmatch(r"[0-9a-f]{32}", trace_id)
        link = operator.get_by_role("link", name="Open its trace")
        assert await link.get_attribute("href") == TRACE_VIEWER.format(trace_id=trace_id)
        await operator.screenshot(path=screenshot_path("ops-booking-trace"), full_page=True)
    finally:
        await context.close()

    async def the_trace_holds_the_booking() -> None:
        found = receiver.trace(trace_id)
        assert found.named("staysaga-web", "StartWorkflow:BookingWorkflow")
        assert found.named("staysaga-worker-reservations", "RunActivity:hold_room")

    await eventually(the_trace_holds_the_booking, timeout=30)
