"""The booking saga on the real stack: every service, every worker, the dev server.

Each booking must end CONFIRMED exactly once (one capture, one reservation) or FAILED with
everything released and nothing charged — also with a bank failing half its calls and a
worker killed in the middle of a step.
"""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import AsyncIterator

import pytest
from temporalio.client import WorkflowUpdateStage

from components.registry import COMPONENTS
from staysaga.driver import StackDriver
from temporal.names import booking_workflow_id
from tests.support.harness import eventually
from tests.support.stack import running_stack, stack_driver
from workflows.models import (
    UPDATE_SUBMIT_PAYMENT,
    BookingState,
    BookingView,
    PaymentSubmission,
    Step,
)

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        not {"users", "pdf", "mailsink", "payments", "reservations"} <= set(COMPONENTS),
        reason="the saga needs every service in COMPONENTS",
    ),
]

SUCCEEDS = "4242424242424242"
DECLINED = "4000000000000002"
SLOW = "4000000000000077"


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    with running_stack(
        tmp_path_factory.mktemp("saga"),
        {"BANK_FAULT_HANG_MS": "1500", "BANK_SLOW_CARD_MS": "4000"},
    ) as running:
        yield running


@pytest.fixture
async def driver(stack) -> AsyncIterator[StackDriver]:
    async with stack_driver(stack) as opened:
        yield opened


async def _service(driver: StackDriver, client_id: str, scopes: str, component: str) -> dict:
    token = await driver.service_token(client_id, scopes, component)
    return {"Authorization": f"Bearer {token}"}


async def _payment(driver: StackDriver, booking_id: str):
    headers = await _service(driver, "worker-payments", "payments:read", "payments")
    return await driver.http.get(
        f"{driver.settings.url('payments')}/payments/{booking_id}", headers=headers
    )


async def _assert_confirmed_once(driver: StackDriver, view: BookingView) -> None:
    assert view.state == BookingState.CONFIRMED, view.failure_reason
    payment = (await _payment(driver, view.booking_id)).json()
    assert payment["status"] == "captured"
    assert payment["captured"] == payment["amount"] == view.total
    assert [t["status"] for t in payment["transitions"]].count("captured") == 1
    headers = await _service(driver, "worker-reservations", "reservations:read", "reservations")
    reservation = await driver.http.get(
        f"{driver.settings.url('reservations')}/reservations/{view.reservation_id}",
        headers=headers,
    )
    assert reservation.json()["status"] == "confirmed"
    assert reservation.json()["booking_id"] == view.booking_id


async def test_a_booking_is_confirmed_and_its_receipt_mailed(driver, stack):
    user_id, email = await driver.register_user()
    view, timings = await driver.book(user_id, card=SUCCEEDS)
    assert timings.emailed is not None
    await _assert_confirmed_once(driver, view)
    assert Step.EMAILED in view.steps and view.receipt_document_id

    async def mailed() -> dict:
        inbox = await driver.http.get(
            f"{driver.settings.url('mailsink')}/api/messages", params={"to": email}
        )
        messages = inbox.json()["items"]
        assert messages, "no mail yet"
        return messages[0]

    message = await eventually(mailed, timeout=60)
    detail = (
        await driver.http.get(f"{driver.settings.url('mailsink')}/api/messages/{message['id']}")
    ).json()
    assert any(a["filename"].endswith(".pdf") for a in detail["attachments"])
    assert view.confirmation_code in (detail.get("text") or "")


async def test_a_declined_card_keeps_the_room_and_another_card_pays(driver):
    user_id, _ = await driver.register_user()
    view, _ = await driver.book(user_id, card=DECLINED)
    assert view.state == BookingState.AWAITING_PAYMENT
    assert view.declined_cards == 1 and "declined" in (view.decline_reason or "")
    headers = await _service(driver, "worker-reservations", "reservations:read", "reservations")
    hold_url = f"{driver.settings.url('reservations')}/holds/{view.hold_id}"
    assert (await driver.http.get(hold_url, headers=headers)).json()["status"] == "held"
    handle = driver.temporal.get_workflow_handle(booking_workflow_id(view.booking_id))
    paid = await driver.pay(handle, await driver.tokenize(SUCCEEDS, user_id))
    assert paid.state == BookingState.CONFIRMED
    payment = await _payment(driver, view.booking_id)
    assert payment.json()["captured"] == paid.total


async def test_a_bank_failing_half_its_calls_still_charges_each_booking_once(driver, stack):
    secret = driver.secrets.shared("BANK_SECRET_KEY")
    bank = f"{driver.settings.url('bank')}/admin/faults"
    auth = {"Authorization": f"Bearer {secret}"}
    faults = {"error_rate": 0.25, "timeout_rate": 0.25, "latency_ms": 0, "seed": 7}
    assert (await driver.http.put(bank, json=faults, headers=auth)).status_code == 200
    try:
        # Four travellers: one may keep only two unpaid holds at a time.
        travellers = [(await driver.register_user())[0] for _ in range(4)]
        results = await asyncio.gather(*(driver.book(u, card=SUCCEEDS) for u in travellers))
    finally:
        await driver.http.put(
            bank, json={"error_rate": 0, "timeout_rate": 0, "latency_ms": 0}, headers=auth
        )
    for view, _ in results:
        await _assert_confirmed_once(driver, view)


async def test_a_worker_killed_mid_payment_is_restarted_and_charges_once(driver, stack):
    user_id, _ = await driver.register_user()
    room = driver.rooms[0]
    import datetime as dt

    handle = await driver.start_booking(user_id, room, dt.date.today() + dt.timedelta(days=40))
    await driver.wait_for(handle, lambda v: v.state == BookingState.AWAITING_PAYMENT)
    token = await driver.tokenize(SLOW)
    update = await handle.start_update(
        UPDATE_SUBMIT_PAYMENT,
        PaymentSubmission(card_token=token),
        wait_for_stage=WorkflowUpdateStage.ACCEPTED,
        result_type=BookingView,
    )

    async def authorizing() -> None:
        description = await handle.describe()
        pending = description.raw_description.pending_activities
        assert any(
            a.activity_type.name == "authorize_payment"
            and a.attempt >= 1
            and a.last_started_time.seconds
            for a in pending
        ), pending

    await eventually(authorizing, timeout=30, interval=0.05)
    (worker,) = [p for p, name in stack.processes().items() if name == "worker-payments"]
    os.kill(worker, signal.SIGKILL)

    view = await update.result()
    await _assert_confirmed_once(driver, view)
    assert "worker-payments exited with status -9; restarting" in stack.output
