"""The committed histories replay against the current workflow code, and a change that
would break running bookings is caught — by the test and by `staysaga replay`."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from temporalio import workflow
from temporalio.api.enums.v1 import EventType
from temporalio.worker import (
    HandleUpdateInput,
    Interceptor,
    Replayer,
    UnsandboxedWorkflowRunner,
    WorkflowInboundInterceptor,
    WorkflowInterceptorClassInput,
)

from activities import models as act
from temporal.converter import DATA_CONVERTER
from workflows.models import UPDATE_SUBMIT_PAYMENT, BookingState
from workflows.replay import load_history_file, replay
from workflows.worker import WORKFLOWS

HERE = Path(__file__).parent / "histories"
HISTORIES = sorted(HERE.glob("*.json"))
# Histories kept as evidence of a failure no workflow code can replay, each with a test of
# why; in a folder of their own, so that `staysaga replay histories/*.json` stays green.
UNREPLAYABLE = sorted((HERE / "unreplayable").glob("*.json"))
STUCK = HERE / "unreplayable" / "payment-accepted-after-the-hold-in-one-task.json"


def test_the_four_paths_are_committed_and_each_patched_path_too():
    assert {p.stem for p in HISTORIES} == {
        "happy",
        "decline",
        "expiry",
        "cancel",
        "happy-describe-and-hold",  # after PATCH_PARALLEL_START
        "payment-with-the-hold",  # after PATCH_PAYMENT_WHILE_HOLDING
        "cancel-by-the-hotels-terms",  # after PATCH_HOTEL_TERMS
        "operator-actions",  # after PATCH_OPERATOR_ACTIONS
        "release-unpaid",  # after PATCH_RELEASE_UNPAID
        "receipt-details",  # after PATCH_RECEIPT_DETAILS
        "expiry-emailed",  # after PATCH_FAILURE_EMAIL
        "decline-then-pay",  # after PATCH_DECLINE_KEEPS_HOLD
        "receipt-with-capture",  # after PATCH_RECEIPT_WITH_CAPTURE
        "every-earlier-change",  # after PATCH_EVERY_EARLIER_CHANGE
    }
    assert UNREPLAYABLE == [STUCK]


@pytest.mark.parametrize("path", HISTORIES, ids=lambda p: p.stem)
async def test_committed_history_replays_on_current_code(path):
    (outcome,) = await replay([load_history_file(path)])
    assert outcome.ok, outcome.error


@pytest.mark.parametrize("path", HISTORIES + UNREPLAYABLE, ids=lambda p: p.stem)
def test_histories_hold_no_card_number_or_email(path):
    text = path.read_text()
    assert "4242424242424242" not in text
    addresses = set(re.findall(r"[\w.+-]+@[\w-]+\.[\w.-]+", text))
    assert not addresses, addresses


def _tampered(tmp_path: Path) -> Path:
    """The happy history, as if the code had once held the room with another activity."""
    document = json.loads((Path(__file__).parent / "histories" / "happy.json").read_text())
    for event in document["history"]["events"]:
        attributes = event.get("activityTaskScheduledEventAttributes")
        if attributes and attributes["activityType"]["name"] == "hold_room":
            attributes["activityType"]["name"] = "reserve_room_v0"
    path = tmp_path / "tampered.json"
    path.write_text(json.dumps(document))
    return path


# ---- a payment accepted after the hold's result, in the same workflow task ---------------
#
# The booking in STUCK was confirmed, then no worker could replay it. Its workflow task 14
# took the hold's result (event 13) and the payment, whose request is sequenced at 13; the
# task's commands were the AWAITING_PAYMENT upsert (16), the payment's acceptance (17), the
# PROCESSING_PAYMENT upsert (18) and the authorisation (19). So when the payment was
# validated the booking was already AWAITING_PAYMENT: the worker had handled the payment
# after the hold's result. Replay cannot do that. It builds the payment's request from event
# 17 and hands it to the workflow in the activation that carries the task's activity
# results, the update first (the SDK runs a task's updates before its other jobs, and the
# update's accept or reject is its first command, before any handler or workflow code); the
# acceptance becomes the task's first command and meets event 16, an upsert.


async def test_the_stuck_booking_accepted_its_payment_after_the_holds_upsert():
    history = load_history_file(STUCK)
    events = {e.event_id: e for e in history.events}
    hold = events[13].activity_task_completed_event_attributes
    scheduled = events[hold.scheduled_event_id].activity_task_scheduled_event_attributes
    assert scheduled.activity_type.name == act.HOLD_ROOM
    assert events[14].event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED
    assert events[15].event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED
    upsert = events[16].upsert_workflow_search_attributes_event_attributes
    assert upsert.search_attributes.indexed_fields["BookingStatus"].data == b'"AWAITING_PAYMENT"'
    accepted = events[17].workflow_execution_update_accepted_event_attributes
    assert accepted.accepted_request.input.name == UPDATE_SUBMIT_PAYMENT
    assert accepted.accepted_request_sequencing_event_id == 13

    (outcome,) = await replay([history])
    assert not outcome.ok
    assert (
        "Update machine does not handle this event: "
        "HistoryEvent(id: 16, UpsertWorkflowSearchAttributes)"
    ) in outcome.error


_STATES_AT_PAYMENT: list[tuple[BookingState, bool]] = []


class _NotePaymentHandler(Interceptor):
    """Notes the booking's state, and whether it has its hold, as a payment is handled."""

    def workflow_interceptor_class(
        self, input: WorkflowInterceptorClassInput
    ) -> type[WorkflowInboundInterceptor]:
        class Inbound(WorkflowInboundInterceptor):
            async def handle_update_handler(self, input: HandleUpdateInput) -> object:
                booking = workflow.instance()
                _STATES_AT_PAYMENT.append((booking.view.state, booking.hold is not None))
                return await super().handle_update_handler(input)

        return Inbound


async def test_replay_hands_the_stuck_tasks_payment_over_before_the_holds_result():
    _STATES_AT_PAYMENT.clear()
    replayer = Replayer(
        workflows=WORKFLOWS,
        data_converter=DATA_CONVERTER,
        interceptors=[_NotePaymentHandler()],
        workflow_runner=UnsandboxedWorkflowRunner(),
    )
    result = await replayer.replay_workflow(load_history_file(STUCK), raise_on_replay_failure=False)
    assert result.replay_failure is not None
    # Originally the validator saw AWAITING_PAYMENT (it refuses a booking still STARTED).
    assert _STATES_AT_PAYMENT == [(BookingState.STARTED, False)]


async def test_the_stuck_booking_replays_with_its_payment_accepted_first(tmp_path):
    # The same history with events 16 and 17 the other way round replays on the current
    # code: the order of the acceptance and the upsert is all that replay cannot reproduce.
    document = json.loads(STUCK.read_text())
    events = document["events"]
    upsert, accepted = events[15], events[16]
    assert (upsert["eventId"], accepted["eventId"]) == ("16", "17")
    upsert["eventId"], accepted["eventId"] = "17", "16"
    events[15], events[16] = accepted, upsert
    for event in events:
        completed = event.get("workflowExecutionUpdateCompletedEventAttributes")
        if completed:
            completed["acceptedEventId"] = "16"
    path = tmp_path / "accepted-first.json"
    path.write_text(json.dumps(document))
    (outcome,) = await replay([load_history_file(path)])
    assert outcome.ok, outcome.error


async def test_a_nondeterministic_change_fails_replay(tmp_path):
    (outcome,) = await replay([load_history_file(_tampered(tmp_path))])
    assert not outcome.ok
    assert "nondetermin" in outcome.error.lower() or "mismatch" in outcome.error.lower()


def test_cli_replay_exits_zero_on_good_and_nonzero_on_bad_histories(tmp_path):
    good = subprocess.run(
        [sys.executable, "-m", "staysaga.cli", "replay", *map(str, HISTORIES)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert good.returncode == 0, good.stdout + good.stderr
    assert f"replayed {len(HISTORIES)} histories, 0 failed" in good.stdout

    bad = subprocess.run(
        [sys.executable, "-m", "staysaga.cli", "replay", str(_tampered(tmp_path))],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert bad.returncode == 1
    assert "FAILED" in bad.stdout


def test_cli_replay_names_a_missing_file(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "staysaga.cli", "replay", str(tmp_path / "nope.json")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "nope.json" in result.stderr
