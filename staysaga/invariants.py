"""What must hold of every booking once the stack is quiet, read from each service's own data.

A booking ends one of two ways, whatever failed on the way:

- confirmed exactly once: one confirmed reservation, one capture at the bank and one in
  Payments, one receipt document, one confirmation e-mail in the mail sink;
- failed cleanly: no authorization left open at the bank, nothing captured, no hold still
  held and no confirmed reservation.

And the night counters of a room type equal what its live holds and reservations take.
The fault drills (`staysaga chaos`) and the end-to-end tests both check through this module.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from temporalio.client import WorkflowExecutionStatus, WorkflowHandle

from services.bank import api as bank_api
from services.common.http import ServiceError
from services.mailsink import api as mailsink_api
from services.mailsink.client import MailsinkClient
from services.payments.client import PaymentsClient
from services.pdf.client import PdfClient
from services.reservations import api as reservations_api
from services.reservations.client import ReservationsClient
from staysaga.driver import StackDriver
from workflows.models import BookingState, BookingView, Step

CONFIRMED_SUBJECT = "Booking confirmed:"
# A confirmed booking is done with its steps once its e-mail went out; it then waits for
# check-out (or a cancel), which is not being stuck.
FINAL_STATES = (
    BookingState.FAILED,
    BookingState.EXPIRED,
    BookingState.COMPLETED,
    BookingState.CANCELLED,
)

CONFIRMED = "confirmed"
FAILED_CLEANLY = "failed cleanly"
INCONSISTENT = "inconsistent"
STUCK = "stuck"


def settled(view: BookingView) -> bool:
    """Whether a booking has nothing left to do before check-out."""
    if view.state in FINAL_STATES:
        return True
    return view.state == BookingState.CONFIRMED and Step.EMAILED in view.steps


@dataclass
class Verdict:
    """What the checks found for one booking: its outcome and, if wrong, why."""

    booking_id: str
    outcome: str
    problems: list[str] = field(default_factory=list)


class Inspector:
    """Reads bookings' traces from every service of one running stack."""

    def __init__(self, driver: StackDriver) -> None:
        self.driver = driver
        self.http = driver.http
        self.settings = driver.settings
        self.payments = PaymentsClient(driver.service_as("payments", "worker-payments"))
        self.reservations_api = ReservationsClient(
            driver.service_as("reservations", "worker-reservations")
        )
        self.pdf = PdfClient(driver.service_as("pdf", "worker-documents"))
        self.mailsink = MailsinkClient(driver.service_as("mailsink"))
        self.bank = driver.bank("BANK_SECRET_KEY")

    async def bank_authorizations(self, booking_id: str) -> list[dict[str, Any]]:
        """The bank's authorizations whose reference is the booking."""
        found = await self.bank.authorizations(bank_api.AuthorizationQuery(reference=booking_id))
        return [item.model_dump(mode="json") for item in found.items]

    async def payment(self, booking_id: str) -> dict[str, Any] | None:
        """Payments' record of the booking's payment, or None if it has none."""
        try:
            found = await self.payments.payment(booking_id)
        except ServiceError as error:
            if error.status == 404:
                return None
            raise
        return found.model_dump(mode="json")

    async def hold(self, hold_id: str) -> dict[str, Any] | None:
        """Reservations' hold, or None if it has no such hold."""
        try:
            found = await self.reservations_api.show_hold(hold_id)
        except ServiceError as error:
            if error.status == 404:
                return None
            raise
        return found.model_dump(mode="json")

    async def reservations(self, user_id: str | None = None) -> list[dict[str, Any]]:
        """Reservations' reservations (one traveller's, or the newest 200 of everyone)."""
        query = reservations_api.ReservationQuery(user_id=user_id, limit=200)
        listed = await self.reservations_api.reservations(query)
        return [item.model_dump(mode="json") for item in listed.items]

    async def rooms_left(
        self, hotel_id: int, room_type_id: int, check_in: date, check_out: date
    ) -> int:
        """Rooms of a room type Reservations still has for every night of a stay."""
        query = reservations_api.AvailabilityQuery(
            hotel_id=hotel_id, guests=1, check_in=check_in, check_out=check_out
        )
        found = await self.reservations_api.availability(query)
        by_type = {t.room_type_id: t.rooms_left for t in found.room_types}
        return by_type[room_type_id]

    async def document_exists(self, document_id: str) -> bool:
        """Whether the PDF service serves this document."""
        try:
            document = await self.pdf.download(document_id)
        except ServiceError:
            return False
        return document.content.startswith(b"%PDF")

    async def confirmation_mails(self, email: str) -> int:
        """How many booking confirmations the mail sink received for an address."""
        received = await self.mailsink.messages(mailsink_api.MessageQuery(to=email, limit=500))
        return sum(m.subject.startswith(CONFIRMED_SUBJECT) for m in received.items)

    async def check_booking(
        self, view: BookingView, email: str | None = None, hold_id: str | None = None
    ) -> Verdict:
        """Check one booking that has settled: confirmed exactly once, or failed cleanly.

        `email` (the traveller's, one booking per address) lets the confirmation e-mail be
        counted; `hold_id` names a hold the booking placed if its view does not.
        """
        if view.state in (BookingState.CONFIRMED, BookingState.COMPLETED):
            problems = await self._confirmed_problems(view, email)
            outcome = CONFIRMED
        elif view.state in (BookingState.FAILED, BookingState.EXPIRED):
            problems = await self._failed_problems(view, hold_id or view.hold_id)
            outcome = FAILED_CLEANLY
        else:
            return Verdict(view.booking_id, STUCK, [f"state {view.state.value} {view.steps}"])
        return Verdict(view.booking_id, INCONSISTENT if problems else outcome, problems)

    async def _confirmed_problems(self, view: BookingView, email: str | None) -> list[str]:
        problems: list[str] = []
        booking = view.booking_id
        mine = [r for r in await self.reservations(view.user_id) if r["booking_id"] == booking]
        confirmed = [r for r in mine if r["status"] == "confirmed"]
        if [r["reservation_id"] for r in confirmed] != [view.reservation_id]:
            problems.append(
                f"confirmed reservations {[r['reservation_id'] for r in confirmed]}, "
                f"the booking says {view.reservation_id}"
            )
        authorizations = await self.bank_authorizations(booking)
        captures = [op for a in authorizations for op in a["operations"] if op["kind"] == "capture"]
        if len(captures) != 1 or sum(a["captured"] for a in authorizations) != view.total:
            problems.append(
                f"bank: {len(captures)} captures, {sum(a['captured'] for a in authorizations)} "
                f"captured of {view.total}"
            )
        still_open = [a["id"] for a in authorizations if a["status"] == "authorized"]
        if still_open:
            problems.append(f"bank: authorizations left open {still_open}")
        payment = await self.payment(booking)
        if payment is None:
            problems.append("payments: no record of a confirmed booking's payment")
        else:
            captured = [t for t in payment["transitions"] if t["status"] == "captured"]
            if payment["status"] != "captured" or len(captured) != 1:
                problems.append(
                    f"payments: status {payment['status']}, {len(captured)} captured transitions"
                )
            if payment["captured"] != view.total:
                problems.append(f"payments: captured {payment['captured']} of {view.total}")
        if not view.receipt_document_id or not await self.document_exists(view.receipt_document_id):
            problems.append(f"pdf: no receipt document {view.receipt_document_id!r}")
        if email is not None:
            mails = await self.confirmation_mails(email)
            if mails != 1:
                problems.append(f"mail sink: {mails} confirmation e-mails to {email}")
        return problems

    async def _failed_problems(self, view: BookingView, hold_id: str | None) -> list[str]:
        problems: list[str] = []
        booking = view.booking_id
        authorizations = await self.bank_authorizations(booking)
        still_open = [a["id"] for a in authorizations if a["status"] == "authorized"]
        if still_open:
            problems.append(f"bank: authorizations left open {still_open}")
        if any(a["captured"] for a in authorizations):
            problems.append("bank: money captured for a failed booking")
        payment = await self.payment(booking)
        if payment is not None and (payment["status"] != "voided" or payment["captured"]):
            problems.append(f"payments: status {payment['status']}, captured {payment['captured']}")
        if hold_id:
            hold = await self.hold(hold_id)
            if hold is not None and hold["status"] in ("held", "confirmed"):
                problems.append(f"reservations: hold {hold_id} is {hold['status']}")
        confirmed = [
            r["reservation_id"]
            for r in await self.reservations(view.user_id)
            if r["booking_id"] == booking and r["status"] == "confirmed"
        ]
        if confirmed:
            problems.append(f"reservations: confirmed {confirmed} for a failed booking")
        return problems


async def stuck_reason(handle: WorkflowHandle[Any, Any]) -> str:
    """Why a booking workflow has not settled: a failing workflow task, a retrying step."""
    description = await handle.describe()
    if description.status != WorkflowExecutionStatus.RUNNING:
        return f"workflow {description.status.name if description.status else 'unknown'}"
    raw = description.raw_description
    reasons = []
    task = raw.pending_workflow_task
    if task.attempt > 1:
        reasons.append(f"workflow task failing (attempt {task.attempt})")
    for pending in raw.pending_activities:
        failure = pending.last_failure.message if pending.HasField("last_failure") else ""
        reasons.append(
            f"{pending.activity_type.name} attempt {pending.attempt}"
            + (f": {failure}" if failure else "")
        )
    return "; ".join(reasons) or "waiting, nothing pending"


async def wait_until_settled(
    driver: StackDriver,
    handles: list[WorkflowHandle[Any, Any]],
    timeout: float,
    interval: float = 1.0,
) -> tuple[dict[str, BookingView], float]:
    """Poll bookings until each has settled or `timeout` passes: the views of the settled
    (by workflow id) and when the last of them settled (time.monotonic())."""
    views: dict[str, BookingView] = {}
    deadline = time.monotonic() + timeout
    last = time.monotonic()
    while True:
        for handle in handles:
            if handle.id in views:
                continue
            try:
                view: BookingView | None = await driver.status(handle)
            except Exception:  # noqa: BLE001 - a worker restarting: ask again next turn
                view = None
            if view is not None and settled(view):
                views[handle.id] = view
                last = time.monotonic()
        if len(views) == len(handles) or time.monotonic() > deadline:
            return views, last
        await asyncio.sleep(interval)


async def check_counters(
    inspector: Inspector,
    hotel_id: int,
    room_type_id: int,
    check_in: date,
    check_out: date,
    total_rooms: int,
) -> list[str]:
    """The room type's free rooms for the stay equal its total less the live holds and
    confirmed reservations for it (every booking of the stay must have settled)."""
    taken = sum(
        1
        for r in await inspector.reservations()
        if r["room_type_id"] == room_type_id
        and r["status"] == "confirmed"
        and r["check_in"] == check_in.isoformat()
        and r["check_out"] == check_out.isoformat()
    )
    left = await inspector.rooms_left(hotel_id, room_type_id, check_in, check_out)
    if left != total_rooms - taken:
        return [
            f"room type {room_type_id}: {left} rooms left of {total_rooms}, "
            f"but {taken} confirmed reservations and no live hold"
        ]
    return []
