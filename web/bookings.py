"""The website's side of the booking saga: start it, follow it, pay, cancel, list.

Everything goes through a Temporal client kept in `app.state.temporal` (connected on
first use; tests put a stand-in there). Names and models come from `workflows.models`
and `temporal.names` only.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from starlette.applications import Starlette
from temporalio.client import Client, WorkflowHandle, WorkflowQueryFailedError
from temporalio.common import TypedSearchAttributes
from temporalio.service import RPCError

from services.common.tracing import current_trace_id
from temporal import connect as temporal_connect
from temporal.names import (
    BOOKING_STATUS,
    CHECK_IN,
    HOTEL_ID,
    USER_ID,
    TaskQueue,
    booking_workflow_id,
)
from workflows.models import (
    QUERY_CANCELLATION_QUOTE,
    QUERY_STATUS,
    UPDATE_CANCEL,
    UPDATE_RESEND_CONFIRMATION,
    UPDATE_SUBMIT_PAYMENT,
    WORKFLOW_TYPE,
    BookingRequest,
    BookingState,
    BookingView,
    CancellationQuote,
    CancelRequest,
    Operator,
    PaymentSubmission,
    ResendRequest,
    Step,
    search_attributes,
)
from workflows.states import bookings_url as bookings_url

# The progress a traveller follows, in order, with the words the page uses.
PROGRESS: tuple[tuple[Step, str], ...] = (
    (Step.HELD, "Room held"),
    (Step.PAID, "Payment authorised"),
    (Step.CONFIRMED, "Reservation confirmed"),
    (Step.RECEIPT, "Receipt ready"),
    (Step.EMAILED, "Receipt e-mailed"),
)
# What a cancelled booking went through after that, in order.
CANCELLATION_PROGRESS: tuple[tuple[Step, str], ...] = (
    (Step.REFUNDED, "Refund sent to your card"),
    (Step.RELEASED, "Booking cancelled"),
    (Step.CANCELLATION_NOTE, "Cancellation note ready"),
    (Step.CANCELLATION_EMAILED, "Cancellation note e-mailed"),
)
# A booking's state in the words a traveller reads.
STATE_WORDS: dict[str, str] = {
    BookingState.STARTED.value: "Holding the room",
    BookingState.AWAITING_PAYMENT.value: "Awaiting payment",
    BookingState.PROCESSING_PAYMENT.value: "Processing the payment",
    BookingState.CONFIRMED.value: "Confirmed",
    BookingState.CANCELLED.value: "Cancelled",
    BookingState.FAILED.value: "Did not go through",
    BookingState.EXPIRED.value: "Expired before payment",
    BookingState.COMPLETED.value: "Stay completed",
}
FINAL_STATES = frozenset(
    {BookingState.FAILED, BookingState.EXPIRED, BookingState.CANCELLED, BookingState.COMPLETED}
)
_BOOKING_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_SAFE_USER_ID = re.compile(r"^[A-Za-z0-9_.@:-]{1,64}$")


def new_booking_id() -> str:
    """A fresh booking id."""
    return uuid.uuid4().hex


def valid_booking_id(raw: str) -> bool:
    """Whether a path segment can be a booking id."""
    return bool(_BOOKING_ID.match(raw))


def was_confirmed(view: BookingView) -> bool:
    """Whether the booking got as far as a confirmed reservation (a cancelled one then has
    a refund and a cancellation note; one released before paying has neither)."""
    return Step.CONFIRMED in view.steps


def is_settled(view: BookingView) -> bool:
    """Nothing more will change without the traveller: the live page may stop."""
    if view.state == BookingState.CANCELLED and was_confirmed(view):
        # The refund comes first; the cancellation note is drawn and e-mailed after.
        return Step.CANCELLATION_EMAILED in view.steps
    if view.state in FINAL_STATES:
        return True
    return view.state == BookingState.CONFIRMED and Step.EMAILED in view.steps


def progress(view: BookingView) -> list[tuple[Step, str]]:
    """The steps a traveller follows on the booking's page: the booking's, and once a
    confirmed booking is cancelled, the cancellation's (the refund only if one is due)."""
    steps = list(PROGRESS)
    if view.state == BookingState.CANCELLED and was_confirmed(view):
        steps += [
            (step, label)
            for step, label in CANCELLATION_PROGRESS
            if step != Step.REFUNDED or view.refunded or Step.REFUNDED in view.steps
        ]
    return steps


def state_words(state: str) -> str:
    """A booking's state as a traveller reads it."""
    return STATE_WORDS.get(state, state.replace("_", " ").capitalize())


def pay_deadline(view: BookingView) -> datetime | None:
    """When the saga stops waiting for a card: its own deadline, which comes a little before
    the hold's expiry (a booking from before the view carried it has only the expiry)."""
    return view.pay_by or view.hold_expires_at


def seconds_to_pay(view: BookingView, now: datetime) -> int:
    """Whole seconds left to pay (0 once the deadline has passed, or with none known)."""
    deadline = pay_deadline(view)
    if deadline is None:
        return 0
    return max(0, int((deadline - now).total_seconds()))


async def temporal(app: Starlette) -> Client:
    """The app's Temporal client, connected on first use."""
    existing: Client | None = getattr(app.state, "temporal", None)
    if existing is not None:
        return existing
    async with app.state.temporal_lock:
        if getattr(app.state, "temporal", None) is None:
            app.state.temporal = await temporal_connect.connect(app.state.settings)
    connected: Client = app.state.temporal
    return connected


def _handle(client: Client, booking_id: str) -> WorkflowHandle[Any, Any]:
    return client.get_workflow_handle(booking_workflow_id(booking_id))


async def start(client: Client, request: BookingRequest) -> WorkflowHandle[Any, Any]:
    """Start the saga (it holds the room at once), with the summary and details the
    Temporal UI shows operators: with tracing on, the details name the request's trace,
    which the saga continues."""
    details = request.details()
    trace_id = current_trace_id()
    if trace_id:
        details += f"  \n**Trace** `{trace_id}`"
    return await client.start_workflow(
        WORKFLOW_TYPE,
        request,
        id=booking_workflow_id(request.booking_id),
        task_queue=TaskQueue.BOOKING.value,
        search_attributes=TypedSearchAttributes(search_attributes(request, BookingState.STARTED)),
        static_summary=request.summary(),
        static_details=details,
    )


HOLD_POLL_SECONDS = 0.1
"""How often "Book" asks whether the hold is placed before it shows the checkout page."""


async def wait_until_held(
    client: Client, booking_id: str, timeout: float = 10.0, interval: float = HOLD_POLL_SECONDS
) -> BookingView:
    """The status once the saga has left STARTED (the hold is placed or refused), or as it
    is when `timeout` runs out: the checkout page then has a countdown to show."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        view = await status(client, booking_id)
        if view.state != BookingState.STARTED or asyncio.get_running_loop().time() > deadline:
            return view
        await asyncio.sleep(interval)


QUERY_TIMEOUT = timedelta(seconds=5)
"""How long a page waits for a booking's answer to a query: a worker too busy to answer
would otherwise keep the page waiting as long as the server lets the query wait."""


async def status(client: Client, booking_id: str) -> BookingView:
    """The saga's status query (an RPCError once QUERY_TIMEOUT passes unanswered)."""
    view: BookingView = await _handle(client, booking_id).query(
        QUERY_STATUS, result_type=BookingView, rpc_timeout=QUERY_TIMEOUT
    )
    return view


async def cancellation_quote(client: Client, booking_id: str) -> CancellationQuote:
    """What cancelling now would refund (an RPCError once QUERY_TIMEOUT passes)."""
    quote: CancellationQuote = await _handle(client, booking_id).query(
        QUERY_CANCELLATION_QUOTE, result_type=CancellationQuote, rpc_timeout=QUERY_TIMEOUT
    )
    return quote


async def submit_payment(client: Client, booking_id: str, card_token: str) -> BookingView:
    """Hand the card token to the saga (its validator may refuse it); the booking once the
    payment went through, failed, or was declined with the room kept for another card."""
    view: BookingView = await _handle(client, booking_id).execute_update(
        UPDATE_SUBMIT_PAYMENT, PaymentSubmission(card_token=card_token), result_type=BookingView
    )
    return view


async def cancel(
    client: Client, booking_id: str, reason: str, operator: Operator | None = None
) -> None:
    """Ask the saga to cancel (refund per policy, release the nights); an operator's cancel
    names them, and the booking keeps who and why."""
    request = CancelRequest(reason=reason, operator=operator)
    await _handle(client, booking_id).execute_update(UPDATE_CANCEL, request)


async def resend_confirmation(
    client: Client, booking_id: str, operator: Operator, reason: str
) -> None:
    """An operator has the saga e-mail the confirmation again."""
    request = ResendRequest(operator=operator, reason=reason)
    await _handle(client, booking_id).execute_update(UPDATE_RESEND_CONFIRMATION, request)


async def pending_for_stay(client: Client, request: BookingRequest) -> BookingView | None:
    """The traveller's booking for this very stay that still waits for a card (with time
    left to pay), if any: going back from checkout and booking again reuses it instead of
    holding a second room."""
    query = (
        f"WorkflowType = '{WORKFLOW_TYPE}' AND UserId = '{request.user_id}' "
        f"AND BookingStatus = '{BookingState.AWAITING_PAYMENT.value}'"
    )
    if not _SAFE_USER_ID.match(request.user_id):
        return None
    now = datetime.now(UTC)
    for found in await _listed(client, query, limit=20):
        view = await status(client, found.booking_id)
        same = (view.hotel_id, view.room_type_id, view.check_in, view.check_out, view.guests) == (
            request.hotel_id,
            request.room_type_id,
            request.check_in,
            request.check_out,
            request.guests,
        )
        if (
            same
            and view.user_id == request.user_id
            and view.state == BookingState.AWAITING_PAYMENT
            and seconds_to_pay(view, now) > 0
        ):
            return view
    return None


async def release(client: Client, booking_id: str) -> None:
    """The traveller gives up an unpaid booking's room: the saga releases it and ends."""
    await cancel(client, booking_id, "released by the traveller")


@dataclass(frozen=True)
class BookingSummary:
    """A line of 'My bookings', from workflow visibility."""

    booking_id: str
    status: str
    hotel_id: str | None
    check_in: date | None
    started_at: datetime | None
    user_id: str | None = None


VIEW_CONCURRENCY = 8
"""How many bookings' status queries "My bookings" has in flight at once."""


async def views_of(
    client: Client, found: list[BookingSummary], concurrency: int = VIEW_CONCURRENCY
) -> dict[str, BookingView]:
    """The status views of listed bookings, by booking id: what was booked, for a list that
    names it. A booking whose view cannot be read now is left out (the list still shows its
    line from visibility)."""
    gate = asyncio.Semaphore(concurrency)

    async def one(summary: BookingSummary) -> BookingView | None:
        async with gate:
            try:
                return await status(client, summary.booking_id)
            except (RPCError, WorkflowQueryFailedError):
                return None

    views = await asyncio.gather(*(one(summary) for summary in found))
    return {view.booking_id: view for view in views if view is not None}


async def list_for_user(client: Client, user_id: str, limit: int = 50) -> list[BookingSummary]:
    """A traveller's bookings, newest first, from the UserId search attribute."""
    if not _SAFE_USER_ID.match(user_id):
        return []
    return await _listed(
        client, f"WorkflowType = '{WORKFLOW_TYPE}' AND UserId = '{user_id}'", limit
    )


@dataclass(frozen=True)
class BookingFilter:
    """What operators list bookings by (each optional): the booking's search attributes."""

    status: BookingState | None = None
    hotel_id: int | None = None
    check_in: date | None = None
    user_id: str | None = None

    def query(self) -> str:
        """The visibility query. Every value is typed or checked, so none can add a clause."""
        clauses = [f"WorkflowType = '{WORKFLOW_TYPE}'"]
        if self.status is not None:
            clauses.append(f"BookingStatus = '{BookingState(self.status).value}'")
        if self.hotel_id is not None:
            clauses.append(f"HotelId = '{int(self.hotel_id)}'")
        if self.check_in is not None:
            day = datetime.combine(self.check_in, datetime.min.time(), UTC)
            after = (day + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
            clauses.append(f"CheckIn >= '{day.strftime('%Y-%m-%dT%H:%M:%SZ')}'")
            clauses.append(f"CheckIn < '{after}'")
        if self.user_id is not None:
            if not _SAFE_USER_ID.match(self.user_id):
                raise ValueError("not a user id")
            clauses.append(f"UserId = '{self.user_id}'")
        return " AND ".join(clauses)


async def list_bookings(
    client: Client, found_by: BookingFilter, limit: int = 100
) -> list[BookingSummary]:
    """Anyone's bookings that match, newest first (for operators)."""
    return await _listed(client, found_by.query(), limit)


async def _listed(client: Client, query: str, limit: int) -> list[BookingSummary]:
    found: list[BookingSummary] = []
    async for execution in client.list_workflows(query, limit=limit):
        attributes = execution.typed_search_attributes
        check_in = attributes.get(CHECK_IN)
        found.append(
            BookingSummary(
                booking_id=execution.id.removeprefix(booking_workflow_id("")),
                status=attributes.get(BOOKING_STATUS)
                or (execution.status.name if execution.status else "UNKNOWN"),
                hotel_id=attributes.get(HOTEL_ID),
                check_in=check_in.date() if check_in else None,
                started_at=execution.start_time,
                user_id=attributes.get(USER_ID),
            )
        )
    found.sort(key=lambda b: b.started_at or datetime.min.replace(tzinfo=UTC), reverse=True)
    return found


def workflow_url(ui_url: str, namespace: str, booking_id: str) -> str:
    """The booking's workflow in the Temporal UI (an operator tool: for the /ops pages)."""
    return f"{ui_url}/namespaces/{namespace}/workflows/{booking_workflow_id(booking_id)}"
