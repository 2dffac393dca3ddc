"""BookingWorkflow with stand-in activities: the saga's paths, compensation and timers."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, time, timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from pydantic import ValidationError
from temporalio import workflow
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.enums.v1 import EventType, UpdateWorkflowExecutionLifecycleStage
from temporalio.api.update.v1 import UpdateRef, WaitPolicy
from temporalio.api.workflowservice.v1 import PollWorkflowExecutionUpdateRequest
from temporalio.client import (
    Client,
    WorkflowHandle,
    WorkflowHistory,
    WorkflowUpdateFailedError,
    WorkflowUpdateStage,
)
from temporalio.common import TypedSearchAttributes
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities import models as act
from temporal.names import TaskQueue, booking_workflow_id
from tests.support.harness import eventually
from tests.workflows.standins import World
from workflows import cancellation
from workflows.booking import BookingWorkflow
from workflows.models import (
    QUERY_CANCELLATION_QUOTE,
    QUERY_STATUS,
    UPDATE_CANCEL,
    UPDATE_SUBMIT_PAYMENT,
    BookingRequest,
    BookingState,
    BookingView,
    CancellationQuote,
    CancelRequest,
    PaymentSubmission,
    Step,
    search_attributes,
)
from workflows.patches import (
    EARLIER_CHANGES,
    PATCH_EVERY_EARLIER_CHANGE,
    PATCH_HOTEL_TERMS,
    PATCH_RECEIPT_DETAILS,
)
from workflows.replay import replay

CARD = PaymentSubmission(card_token="tok_visa_4242")
ADMITTED = UpdateWorkflowExecutionLifecycleStage.UPDATE_WORKFLOW_EXECUTION_LIFECYCLE_STAGE_ADMITTED


class Bookings:
    """Workers on every task queue over a World, and the bookings a test starts."""

    def __init__(self, client: Client, world: World) -> None:
        self.client = client
        self.world = world
        self.handles: list[WorkflowHandle] = []

    async def start(
        self, check_in_days: int = 10, nights: int = 2, with_attributes: bool = False
    ) -> WorkflowHandle:
        """Start a booking checking in that many days from the server's today; with its
        search attributes set at start, as the website does, if `with_attributes`."""
        booking_id = uuid.uuid4().hex[:12]
        today = datetime.now().date()
        request = BookingRequest(
            booking_id=booking_id,
            user_id="user-1",
            hotel_id=7,
            room_type_id=21,
            check_in=today + timedelta(days=check_in_days),
            check_out=today + timedelta(days=check_in_days + nights),
            guests=2,
            guest_name="Ada Lovelace",
        )
        attributes = search_attributes(request, BookingState.STARTED) if with_attributes else []
        handle = await self.client.start_workflow(
            BookingWorkflow.run,
            request,
            id=booking_workflow_id(booking_id),
            task_queue=TaskQueue.BOOKING,
            search_attributes=TypedSearchAttributes(attributes),
        )
        self.handles.append(handle)
        return handle


def workflow_worker(env: WorkflowEnvironment, **options: Any) -> Worker:
    """A worker of the booking workflow (run it with `async with`)."""
    return Worker(env.client, task_queue=TaskQueue.BOOKING, workflows=[BookingWorkflow], **options)


@contextlib.asynccontextmanager
async def bookings(
    env: WorkflowEnvironment, world: World, *, workflows: bool = True
) -> AsyncIterator[Bookings]:
    """Run stand-in activity workers, and the workflow worker unless the test runs its own,
    for the test's duration."""
    standins = world.activities()
    async with contextlib.AsyncExitStack() as stack:
        if workflows:
            await stack.enter_async_context(workflow_worker(env))
        for queue in (q for q in TaskQueue if q is not TaskQueue.BOOKING):
            await stack.enter_async_context(
                Worker(env.client, task_queue=queue, activities=standins)
            )
        running = Bookings(env.client, world)
        try:
            yield running
        finally:
            for handle in running.handles:
                with contextlib.suppress(Exception):
                    await handle.terminate("test over")


async def status(handle: WorkflowHandle) -> BookingView:
    return await handle.query(QUERY_STATUS, result_type=BookingView)


async def awaiting_payment(handle: WorkflowHandle) -> BookingView:
    async def check() -> BookingView:
        view = await status(handle)
        assert view.state == BookingState.AWAITING_PAYMENT, view.state
        return view

    return await eventually(check, timeout=20)


async def pay(handle: WorkflowHandle, card: PaymentSubmission = CARD) -> BookingView:
    return await handle.execute_update(UPDATE_SUBMIT_PAYMENT, card, result_type=BookingView)


# ---- the payment's validator, without a server -------------------------------------------


def refusal(booking: BookingWorkflow, history_length: int, monkeypatch) -> str | None:
    """Why the booking's validator refuses a payment in a task of that history length."""
    task = SimpleNamespace(get_current_history_length=lambda: history_length)
    monkeypatch.setattr(workflow, "info", lambda: task)
    try:
        booking._validate_payment(CARD)
    except ValueError as error:
        return str(error)
    return None


def unstarted_booking() -> BookingWorkflow:
    today = datetime.now().date()
    return BookingWorkflow(
        BookingRequest(
            booking_id="b1",
            user_id="user-1",
            hotel_id=7,
            room_type_id=21,
            check_in=today + timedelta(days=10),
            check_out=today + timedelta(days=12),
            guests=2,
            guest_name="Ada Lovelace",
        )
    )


# A line break (a mail header's end), a bidirectional override, a NUL: the guest's name
# reaches the receipt and the e-mails.
@pytest.mark.parametrize("name", ["Ada\r\nBcc: eve@example.com", "\u202eAda", "Ada\x00"])
def test_a_booking_for_a_guest_name_with_control_characters_never_starts(name):
    fields = unstarted_booking().request.model_dump()
    with pytest.raises(ValidationError) as refused:
        BookingRequest(**{**fields, "guest_name": name})
    assert refused.value.errors()[0]["loc"] == ("guest_name",)


def test_a_payment_is_refused_in_the_task_that_applied_the_hold_and_taken_in_a_later_one(
    monkeypatch,
):
    # Accepted there, the acceptance would follow the task's AWAITING_PAYMENT upsert, an
    # order replay cannot reproduce (see test_replay's stuck booking).
    booking = unstarted_booking()
    booking.view.state = BookingState.AWAITING_PAYMENT
    booking.awaiting_payment_since = 14
    assert "just held" in (refusal(booking, 14, monkeypatch) or "")
    assert refusal(booking, 16, monkeypatch) is None
    booking.card_token = CARD.card_token
    assert "already" in (refusal(booking, 16, monkeypatch) or "")


def test_a_payment_while_the_room_is_being_held_is_taken_since_the_patch(monkeypatch):
    booking = unstarted_booking()
    assert booking.view.state == BookingState.STARTED
    assert "it is STARTED" in (refusal(booking, 3, monkeypatch) or "")
    booking.payment_while_holding = True  # PATCH_PAYMENT_WHILE_HOLDING
    assert refusal(booking, 3, monkeypatch) is None
    booking.view.state = BookingState.FAILED
    assert "it is FAILED" in (refusal(booking, 9, monkeypatch) or "")


# ---- on both servers ------------------------------------------------------------------


@pytest.mark.parametrize("sold_out", [False, True], ids=["held", "sold-out"])
async def test_a_payment_sent_while_the_room_is_being_held_waits_for_the_hold(
    workflow_env, sold_out
):
    world = World(hold_gate=asyncio.Event(), sold_out=sold_out)
    async with bookings(workflow_env, world) as running:
        handle = await running.start()

        async def holding() -> None:
            assert act.HOLD_ROOM in world.calls

        await eventually(holding, timeout=20)
        payment = await handle.start_update(
            UPDATE_SUBMIT_PAYMENT,
            CARD,
            wait_for_stage=WorkflowUpdateStage.ACCEPTED,
            result_type=BookingView,
        )
        assert (await status(handle)).state == BookingState.STARTED
        world.hold_gate.set()
        view = await payment.result()
    if sold_out:
        assert view.state == BookingState.FAILED
        assert act.AUTHORIZE_PAYMENT not in world.calls
    else:
        assert view.state == BookingState.CONFIRMED
        assert world.effects["authorization"] == world.effects["capture"] == 1


async def test_happy_path_confirms_captures_and_emails_the_receipt(workflow_env):
    world = World()
    async with bookings(workflow_env, world) as running:
        handle = await running.start()
        held = await awaiting_payment(handle)
        assert held.total == 20000 and held.currency == "EUR"
        assert held.hold_expires_at is not None

        confirmed = await pay(handle)
        assert confirmed.state == BookingState.CONFIRMED
        assert confirmed.confirmation_code == "K7Q2ZP"
        assert confirmed.captured == 20000

        async def emailed() -> BookingView:
            view = await status(handle)
            assert Step.EMAILED in view.steps
            return view

        view = await eventually(emailed, timeout=20)
    # The receipt goes out while the payment is captured (PATCH_RECEIPT_WITH_CAPTURE).
    assert view.steps[:3] == [Step.HELD, Step.PAID, Step.CONFIRMED]
    assert sorted(view.steps[3:6]) == sorted([Step.CAPTURED, Step.RECEIPT, Step.EMAILED])
    assert view.steps.index(Step.RECEIPT) < view.steps.index(Step.EMAILED)
    assert world.effects["hold"] == world.effects["authorization"] == 1
    assert world.effects["reservation"] == world.effects["capture"] == 1
    (mail,) = world.emails.values()
    assert mail.template == "booking-confirmed"
    assert [a.document_id for a in mail.attachments] == [view.receipt_document_id]
    (receipt,) = world.documents.values()
    assert type(receipt["data"]) is act.ReceiptData
    assert receipt["data"].guest_name == "Ada Lovelace"
    assert receipt["data"].confirmation_code == "K7Q2ZP"
    assert receipt["data"].hotel_name == "Grand Hotel Paris" == view.hotel_name
    assert mail.data.confirmation_code == "K7Q2ZP" and mail.data.total == view.total


async def test_the_receipt_is_emailed_while_the_payment_is_captured(workflow_env):
    world = World(capture_gate=asyncio.Event())
    async with bookings(workflow_env, world) as running:
        handle = await running.start()
        await awaiting_payment(handle)
        payment = await handle.start_update(
            UPDATE_SUBMIT_PAYMENT,
            CARD,
            wait_for_stage=WorkflowUpdateStage.ACCEPTED,
            result_type=BookingView,
        )

        async def emailed_before_the_capture() -> BookingView:
            view = await status(handle)
            assert Step.EMAILED in view.steps, view.steps
            return view

        view = await eventually(emailed_before_the_capture, timeout=20)
        assert Step.CAPTURED not in view.steps
        assert view.state == BookingState.PROCESSING_PAYMENT
        assert world.effects["capture"] == 0 and act.CAPTURE_PAYMENT in world.calls
        world.capture_gate.set()
        confirmed = await payment.result()
    assert confirmed.state == BookingState.CONFIRMED and confirmed.captured == 20000
    assert [m.template for m in world.emails.values()] == ["booking-confirmed"]


async def test_a_second_payment_and_a_malformed_token_are_refused(workflow_env):
    world = World()
    async with bookings(workflow_env, world) as running:
        handle = await running.start()
        await awaiting_payment(handle)
        with pytest.raises(WorkflowUpdateFailedError):
            await handle.execute_update(
                UPDATE_SUBMIT_PAYMENT, {"card_token": "4242424242424242"}, result_type=BookingView
            )
        await pay(handle)
        with pytest.raises(WorkflowUpdateFailedError) as second:
            await pay(handle)
    assert "already" in str(second.value.cause)


async def test_infrastructure_failures_are_retried_without_charging_twice(workflow_env):
    world = World(authorize_flaky=2)
    async with bookings(workflow_env, world) as running:
        handle = await running.start()
        await awaiting_payment(handle)
        view = await pay(handle)
    assert view.state == BookingState.CONFIRMED
    assert world.calls.count(act.AUTHORIZE_PAYMENT) == 3
    assert world.effects["authorization"] == 1 and world.effects["capture"] == 1


async def test_search_attributes_let_operators_find_the_booking(dev_server_env):
    world = World()
    async with bookings(dev_server_env, world) as running:
        handle = await running.start()
        await awaiting_payment(handle)
        await pay(handle)

        async def listed() -> None:
            query = (
                f"WorkflowId = '{handle.id}' AND BookingStatus = 'CONFIRMED' "
                "AND HotelId = '7' AND UserId = 'user-1'"
            )
            found = [w.id async for w in dev_server_env.client.list_workflows(query)]
            assert found == [handle.id]

        await eventually(listed, timeout=30)


async def test_attributes_set_at_start_are_not_upserted_again(dev_server_env):
    # The website starts a booking with its search attributes: it is findable as STARTED
    # at once, and the workflow's first upsert is the next state's, not STARTED again.
    world = World()
    async with bookings(dev_server_env, world) as running:
        handle = await running.start(with_attributes=True)
        await awaiting_payment(handle)
        history = await handle.fetch_history()
    upserts = [
        e.upsert_workflow_search_attributes_event_attributes.search_attributes.indexed_fields
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES
    ]
    statuses = [fields["BookingStatus"].data for fields in upserts if "BookingStatus" in fields]
    assert statuses == [b'"AWAITING_PAYMENT"']
    first = history.events[0].workflow_execution_started_event_attributes
    assert first.search_attributes.indexed_fields["BookingStatus"].data == b'"STARTED"'


async def test_a_new_booking_records_one_patch_marker_and_one_version_upsert(workflow_env):
    # Each patch marker comes with an upsert of TemporalChangeVersion, a visibility write on
    # the server: a booking on its way to the e-mailed receipt took seven of each before
    # PATCH_EVERY_EARLIER_CHANGE, and now takes one of each.
    world = World()
    async with bookings(workflow_env, world) as running:
        handle = await running.start()
        await awaiting_payment(handle)
        await pay(handle)

        async def emailed() -> None:
            assert Step.EMAILED in (await status(handle)).steps

        await eventually(emailed, timeout=20)
        history = await handle.fetch_history()
    markers = [
        e.marker_recorded_event_attributes.details["patch-data"].payloads[0].data
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_MARKER_RECORDED
    ]
    versions = [
        e
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES
        and "TemporalChangeVersion"
        in e.upsert_workflow_search_attributes_event_attributes.search_attributes.indexed_fields
    ]
    assert len(markers) == len(versions) == 1
    assert PATCH_EVERY_EARLIER_CHANGE.encode() in markers[0]


async def payment_admitted(client: Client, handle: WorkflowHandle, update_id: str) -> None:
    """Passes once the server holds the payment update for the booking's next task."""
    response = await client.workflow_service.poll_workflow_execution_update(
        PollWorkflowExecutionUpdateRequest(
            namespace=client.namespace,
            update_ref=UpdateRef(
                workflow_execution=WorkflowExecution(workflow_id=handle.id), update_id=update_id
            ),
            identity=client.identity,
            wait_policy=WaitPolicy(lifecycle_stage=ADMITTED),
        )
    )
    assert response.stage >= ADMITTED, response.stage


def activity_event_ids(history: WorkflowHistory, name: str) -> tuple[int, int | None]:
    """The ids of an activity's scheduled event and of its completed event (if any)."""
    scheduled = next(
        e.event_id
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
        and e.activity_task_scheduled_event_attributes.activity_type.name == name
    )
    completed = next(
        (
            e.event_id
            for e in history.events
            if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED
            and e.activity_task_completed_event_attributes.scheduled_event_id == scheduled
        ),
        None,
    )
    return scheduled, completed


async def pay_with_the_holds_result(
    env: WorkflowEnvironment, running: Bookings, world: World
) -> tuple[WorkflowHandle, BookingView]:
    """A booking whose payment reaches it in the same workflow task as the hold's result.

    `running` has no workflow worker of its own and `world` a hold gate. A worker starts the
    booking and goes away while the hold is pending; the payment is sent and held by the
    server, then the hold answers, and only then does a worker take the task, which carries
    both. Neither worker keeps a cache (so neither leaves a sticky queue behind, and the
    second replays the whole history, that task included, for every later task)."""
    assert world.hold_gate is not None
    async with workflow_worker(env, max_cached_workflows=0):
        handle = await running.start(with_attributes=True)

        async def waiting_for_the_hold() -> None:
            # The catalogue's answer is taken and no task is left for this worker.
            assert act.HOLD_ROOM in world.calls
            history = await handle.fetch_history()
            assert activity_event_ids(history, act.DESCRIBE_HOTEL)[1] is not None
            description = (await handle.describe()).raw_description
            assert not description.HasField("pending_workflow_task")

        await eventually(waiting_for_the_hold, timeout=20)
    update_id = f"pay-{handle.id}"
    payment = asyncio.create_task(
        handle.execute_update(UPDATE_SUBMIT_PAYMENT, CARD, id=update_id, result_type=BookingView)
    )
    try:
        await eventually(lambda: payment_admitted(env.client, handle, update_id), timeout=20)
        world.hold_gate.set()

        async def held() -> None:
            history = await handle.fetch_history()
            assert activity_event_ids(history, act.HOLD_ROOM)[1] is not None

        await eventually(held, timeout=20)
        async with workflow_worker(env, max_cached_workflows=0):
            view = await asyncio.wait_for(payment, timeout=60)
    finally:
        payment.cancel()
    return handle, view


async def test_a_payment_arriving_with_the_holds_result_is_accepted_and_replays(dev_server_env):
    world = World(hold_gate=asyncio.Event())
    async with bookings(dev_server_env, world, workflows=False) as running:
        handle, view = await pay_with_the_holds_result(dev_server_env, running, world)
        history = await handle.fetch_history()
    assert view.state == BookingState.CONFIRMED
    assert world.effects["hold"] == world.effects["authorization"] == 1

    # One workflow task took both the hold's result and the payment, and accepted the
    # payment before anything else it did (as replay, which hands it the payment first).
    _, hold_done = activity_event_ids(history, act.HOLD_ROOM)
    assert hold_done is not None
    events = {e.event_id: e for e in history.events}
    (accepted,) = (
        e
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED
    )
    task_started = min(
        e.event_id
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED and e.event_id > hold_done
    )
    task_completed = task_started + 1
    assert events[task_completed].event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED
    assert accepted.event_id == task_completed + 1
    sequenced = accepted.workflow_execution_update_accepted_event_attributes
    assert hold_done <= sequenced.accepted_request_sequencing_event_id < task_started

    (outcome,) = await replay([history])
    assert outcome.ok, outcome.error


# ---- time-skipping: timers ------------------------------------------------------------


async def unpaid_to_the_end(env: WorkflowEnvironment, world: World) -> BookingView:
    """A booking nobody pays for, run until it ends."""
    async with bookings(env, world) as running:
        handle = await running.start()
        return await handle.result()


def assert_held_then_released(world: World, view: BookingView) -> None:
    # The catalogue lookup and the hold run together: either may be called first.
    assert sorted(world.calls[:2]) == sorted([act.DESCRIBE_HOTEL, act.HOLD_ROOM])
    assert world.calls[2] == act.RELEASE_HOLD
    assert world.holds[view.booking_id] == "released"


async def test_no_payment_before_the_hold_lapses_expires_and_releases(time_skipping_env):
    world = World(hold_ttl=timedelta(minutes=15))
    view = await unpaid_to_the_end(time_skipping_env, world)
    assert view.state == BookingState.EXPIRED
    assert_held_then_released(world, view)
    assert world.calls[3:] == [f"{act.SEND_EMAIL}:booking-failed"]


async def test_a_room_gone_fails_without_compensation(time_skipping_env):
    world = World(sold_out=True)
    view = await unpaid_to_the_end(time_skipping_env, world)
    assert view.state == BookingState.FAILED
    assert "no longer available" in view.failure_reason
    assert sorted(world.calls) == sorted([act.DESCRIBE_HOTEL, act.HOLD_ROOM])


async def test_one_unpaid_hold_too_many_fails_at_once_saying_why(time_skipping_env):
    world = World(too_many_holds=True)
    view = await unpaid_to_the_end(time_skipping_env, world)
    assert view.state == BookingState.FAILED
    assert view.failure_reason == "You may hold at most 2 rooms at a time without paying for them."
    assert sorted(world.calls) == sorted([act.DESCRIBE_HOTEL, act.HOLD_ROOM])


async def test_an_unknown_hotel_fails_and_releases_the_hold_placed_meanwhile(time_skipping_env):
    world = World(unknown_hotel=True)
    view = await unpaid_to_the_end(time_skipping_env, world)
    assert view.state == BookingState.FAILED
    assert "not in our catalogue" in view.failure_reason
    assert_held_then_released(world, view)
    assert world.calls[3:] == []  # no hotel to name: the page says why, no e-mail
    assert world.effects["hold"] == 1


async def test_an_expired_hold_at_confirmation_voids_then_releases(time_skipping_env):
    world = World(confirm_error=act.HOLD_EXPIRED)
    async with bookings(time_skipping_env, world) as running:
        handle = await running.start()
        await awaiting_payment(handle)
        view = await pay(handle)
        await handle.result()
    assert view.state == BookingState.FAILED
    assert "expired" in view.failure_reason
    tail = world.calls[-3:]
    assert tail == [act.VOID_PAYMENT, act.RELEASE_HOLD, f"{act.SEND_EMAIL}:booking-failed"]
    assert world.payments[view.booking_id]["status"] == "voided"


async def test_confirmed_booking_sends_a_reminder_and_completes_after_check_out(
    time_skipping_env,
):
    world = World()
    async with bookings(time_skipping_env, world) as running:
        handle = await running.start(check_in_days=5, nights=2)
        await awaiting_payment(handle)
        await pay(handle)
        view = await handle.result()
    assert view.state == BookingState.COMPLETED
    assert Step.REMINDED in view.steps
    templates = [m.template for m in world.emails.values()]
    assert templates == ["booking-confirmed", "booking-reminder"]


async def test_cancel_before_the_free_window_ends_refunds_everything(time_skipping_env):
    world = World()
    async with bookings(time_skipping_env, world) as running:
        handle = await running.start(check_in_days=10)
        await awaiting_payment(handle)
        await pay(handle)
        quote = await handle.query(QUERY_CANCELLATION_QUOTE, result_type=CancellationQuote)
        assert quote.cancellable and quote.refund == 20000 and quote.fee == 0
        result = await handle.execute_update(
            UPDATE_CANCEL, CancelRequest(), result_type=CancellationQuote
        )
        view = await handle.result()
    assert result.refund == 20000
    assert view.state == BookingState.CANCELLED
    assert view.refunded == 20000
    assert world.holds[view.booking_id] == "cancelled"
    templates = [m.template for m in world.emails.values()]
    assert templates == ["booking-confirmed", "booking-cancelled"]
    assert Step.CANCELLATION_NOTE in view.steps and Step.CANCELLATION_EMAILED in view.steps
    note = world.documents[f"booking-{view.booking_id}-cancellation"]["data"]
    assert type(note) is act.CancellationData and note.refund == 20000
    assert world.emails[f"booking-{view.booking_id}-cancelled"].data.refund == 20000


async def test_late_cancel_keeps_the_first_night(time_skipping_env):
    world = World()
    async with bookings(time_skipping_env, world) as running:
        # Check-in is tomorrow: within 48 hours, so the first night is charged.
        handle = await running.start(check_in_days=1, nights=3)
        await awaiting_payment(handle)
        await pay(handle)
        result = await handle.execute_update(
            UPDATE_CANCEL, CancelRequest(), result_type=CancellationQuote
        )
        view = await handle.result()
    assert result.fee == world.nightly_rate
    assert result.refund == 3 * world.nightly_rate - world.nightly_rate
    assert view.refunded == result.refund


# A week's free-cancellation window, 20% tax, check-in at 16:00 and out at 10:00 (UTC).
STRICT_TERMS = act.HotelTerms(
    free_cancellation_hours=7 * 24,
    tax_rate_percent=20,
    check_in_time=time(16, 0),
    check_out_time=time(10, 0),
)
MINUTE = timedelta(minutes=1)


async def test_the_hotels_terms_come_with_the_hold(time_skipping_env):
    world = World(terms=STRICT_TERMS)
    async with bookings(time_skipping_env, world) as running:
        # Five days ahead: free by today's default window of 48 hours, not by this hotel's.
        handle = await running.start(check_in_days=5, nights=2)
        await awaiting_payment(handle)
        view = await pay(handle)
        quote = await handle.query(QUERY_CANCELLATION_QUOTE, result_type=CancellationQuote)
        result = await handle.execute_update(
            UPDATE_CANCEL, CancelRequest(), result_type=CancellationQuote
        )
        await handle.result()
    check_in_at = datetime.combine(view.check_in, time(16, 0), tzinfo=UTC)
    assert quote.free_until == check_in_at - timedelta(days=7)
    assert result.fee == world.nightly_rate
    assert result.refund == world.nightly_rate
    receipt = world.documents[f"booking-{view.booking_id}-receipt"]
    assert receipt["data"].taxes == 2 * world.nightly_rate * 20 // 120


async def test_the_reminder_and_the_stays_end_follow_the_hotels_times(time_skipping_env):
    world = World(terms=STRICT_TERMS)
    async with bookings(time_skipping_env, world) as running:
        handle = await running.start(check_in_days=5, nights=2)
        await awaiting_payment(handle)
        await pay(handle)
        view = await handle.result()
        completed = (await handle.describe()).close_time
    assert view.state == BookingState.COMPLETED
    check_out_at = datetime.combine(view.check_out, time(10, 0), tzinfo=UTC)
    assert completed is not None and check_out_at <= completed < check_out_at + MINUTE
    remind_at = datetime.combine(view.check_in, time(16, 0), tzinfo=UTC) - timedelta(days=1)
    assert remind_at <= view.step_times[Step.REMINDED] < remind_at + MINUTE


def test_an_unpaid_booking_could_not_be_cancelled_before_the_release_patch():
    view = unstarted_booking().view.model_copy(update={"state": BookingState.AWAITING_PAYMENT})
    now = datetime.now(UTC)
    before = cancellation.quote(view, act.HotelTerms(), now, requested=False, done=False)
    since = cancellation.quote(
        view, act.HotelTerms(), now, requested=False, done=False, unpaid_release=True
    )
    assert not before.cancellable and "Only a confirmed booking" in (before.why_not or "")
    assert since.cancellable and (since.refund, since.fee) == (0, 0)


async def test_cancel_is_refused_twice(time_skipping_env):
    world = World()
    async with bookings(time_skipping_env, world) as running:
        handle = await running.start()
        await awaiting_payment(handle)
        await pay(handle)
        await handle.execute_update(UPDATE_CANCEL, CancelRequest(), result_type=CancellationQuote)
        with pytest.raises(WorkflowUpdateFailedError):
            await handle.execute_update(
                UPDATE_CANCEL, CancelRequest(), result_type=CancellationQuote
            )


async def test_the_view_shows_the_payment_deadline_and_the_policy_before_paying(
    time_skipping_env,
):
    world = World(terms=STRICT_TERMS, hold_ttl=timedelta(minutes=15))
    async with bookings(time_skipping_env, world) as running:
        handle = await running.start(check_in_days=10, nights=2)
        view = await awaiting_payment(handle)
    assert view.hold_expires_at is not None and view.pay_by is not None
    # The saga stops waiting for a card 30 seconds before the hold lapses: that is the
    # deadline, not the hold's expiry.
    assert view.pay_by == view.hold_expires_at - timedelta(seconds=30)
    check_in_at = datetime.combine(view.check_in, time(16, 0), tzinfo=UTC)
    assert view.free_cancellation_until == check_in_at - timedelta(days=7)
    assert view.late_cancellation_fee == world.nightly_rate


async def test_the_traveller_releases_an_unpaid_room_and_nothing_is_charged(time_skipping_env):
    world = World()
    async with bookings(time_skipping_env, world) as running:
        handle = await running.start()
        await awaiting_payment(handle)
        quote = await handle.query(QUERY_CANCELLATION_QUOTE, result_type=CancellationQuote)
        released = await handle.execute_update(
            UPDATE_CANCEL,
            CancelRequest(reason="released by the traveller"),
            result_type=CancellationQuote,
        )
        view = await handle.result()
    assert quote.cancellable and (quote.refund, quote.fee) == (0, 0)
    assert (released.refund, released.fee) == (0, 0)
    assert view.state == BookingState.CANCELLED
    assert view.failure_reason == "You released the room. Nothing was charged."
    assert view.steps == [Step.HELD, Step.RELEASED]
    assert world.holds[view.booking_id] == "released"
    assert act.AUTHORIZE_PAYMENT not in world.calls


def test_a_payment_is_refused_once_the_room_is_being_released(monkeypatch):
    booking = unstarted_booking()
    booking.view.state = BookingState.AWAITING_PAYMENT
    booking.awaiting_payment_since = 5
    assert refusal(booking, 9, monkeypatch) is None
    booking.cancel_request = CancelRequest(reason="released by the traveller")
    assert refusal(booking, 9, monkeypatch) == "This booking's room is being released."


def test_only_the_earlier_changes_ride_on_the_one_marker(monkeypatch):
    # A booking started since PATCH_EVERY_EARLIER_CHANGE takes the nine changes before it
    # under that marker; a change made later is asked under its own id, or a booking
    # started before that change would replay a path it never took.
    asked: list[str] = []
    monkeypatch.setattr(workflow, "patched", lambda patch_id: asked.append(patch_id) or True)
    booking = SimpleNamespace(every_earlier_change=None)
    assert BookingWorkflow._patched(booking, PATCH_RECEIPT_DETAILS)
    assert BookingWorkflow._patched(booking, PATCH_HOTEL_TERMS)
    assert BookingWorkflow._patched(booking, "a-later-change")
    assert asked == [PATCH_EVERY_EARLIER_CHANGE, "a-later-change"]
    assert len(EARLIER_CHANGES) == 9 and PATCH_EVERY_EARLIER_CHANGE not in EARLIER_CHANGES
