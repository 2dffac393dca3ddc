"""What an operator sees of a booking in Temporal: a summary in the list, the outcome as
the workflow's current details, failed bookings one saved query away, and the replay
command taking the id the website shows."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from datetime import date, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

from temporalio.client import WorkflowHandle

from activities import models as act
from temporal.names import workflow_id_given
from tests.support.harness import eventually
from tests.workflows.standins import World
from tests.workflows.test_booking import bookings, pay
from web import bookings as web_bookings
from workflows.models import BookingRequest, BookingState, BookingView, outcome_details

METADATA_QUERY = "__temporal_workflow_metadata"


def _request() -> BookingRequest:
    check_in = datetime.now().date() + timedelta(days=10)
    return BookingRequest(
        booking_id=uuid.uuid4().hex,
        user_id="user-7",
        hotel_id=7,
        room_type_id=21,
        check_in=check_in,
        check_out=check_in + timedelta(days=2),
        guests=2,
        guest_name="Ada Lovelace",
    )


async def _current_details(handle: WorkflowHandle) -> str:
    metadata = await handle.query(METADATA_QUERY)
    return str(metadata.current_details)


def test_the_summary_says_what_was_booked_and_names_no_one():
    request = _request().model_copy(
        update={"check_in": date(2027, 3, 1), "check_out": date(2027, 3, 2), "guests": 1}
    )
    assert request.summary() == "Hotel 7, room type 21: 2027-03-01 to 2027-03-02 (1 night), 1 guest"
    assert "Ada" not in request.summary() + request.details()
    assert request.booking_id in request.details() and "user-7" in request.details()


def test_the_outcome_names_the_state_and_why():
    view = BookingView(
        booking_id="b1",
        user_id="user-7",
        state=BookingState.FAILED,
        hotel_id=7,
        room_type_id=21,
        check_in=date(2027, 3, 1),
        check_out=date(2027, 3, 2),
        guests=1,
        hotel_name="Hôtel du Nord",
        failure_reason="Your card was declined.",
    )
    details = outcome_details(view)
    assert details.startswith("**FAILED**")
    assert "Hôtel du Nord" in details and "Your card was declined." in details


def test_a_booking_id_or_its_workflow_id_names_the_same_workflow():
    booking_id = uuid.uuid4().hex
    assert workflow_id_given(booking_id) == f"booking-{booking_id}"
    assert workflow_id_given(f"booking-{booking_id}") == f"booking-{booking_id}"
    assert workflow_id_given(f" {booking_id}\n") == f"booking-{booking_id}"
    assert workflow_id_given("staysaga-reconciler") == "staysaga-reconciler"


def test_the_failed_bookings_link_is_a_query_on_the_booking_status():
    url = web_bookings.bookings_url(
        "http://127.0.0.1:8233", "default", BookingState.FAILED, BookingState.EXPIRED
    )
    parts = urlsplit(url)
    assert parts.path == "/namespaces/default/workflows"
    (query,) = parse_qs(parts.query)["query"]
    assert query == 'WorkflowType="BookingWorkflow" AND BookingStatus IN ("FAILED", "EXPIRED")'


async def test_operators_find_a_failed_booking_by_its_summary_outcome_and_query(dev_server_env):
    world = World(confirm_error=act.HOLD_EXPIRED)
    request = _request()
    async with bookings(dev_server_env, world) as running:
        handle = await web_bookings.start(dev_server_env.client, request)
        running.handles.append(handle)
        description = await handle.describe()
        assert await description.static_summary() == request.summary()
        assert await description.static_details() == request.details()

        async def awaiting() -> None:
            assert (await _current_details(handle)).startswith("**AWAITING_PAYMENT**")

        await eventually(awaiting, timeout=20)
        await pay(handle)
        view = BookingView.model_validate(await handle.result())
        assert view.state == BookingState.FAILED
        details = await _current_details(handle)
        assert details.startswith("**FAILED**") and "expired" in details

        url = web_bookings.bookings_url("http://ui", "default", BookingState.FAILED)
        (query,) = parse_qs(urlsplit(url).query)["query"]

        async def listed() -> None:
            found = [w.id async for w in dev_server_env.client.list_workflows(query)]
            assert handle.id in found

        await eventually(listed, timeout=20)


def test_replay_answers_an_unknown_booking_in_one_line(dev_server_env):
    address = dev_server_env.client.service_client.config.target_host
    missing = uuid.uuid4().hex
    result = subprocess.run(
        [sys.executable, "-m", "staysaga.cli", "replay", "--workflow-id", missing],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "TEMPORAL_ADDRESS": address},
    )
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.strip() == f"staysaga replay: no workflow booking-{missing} in Temporal"
