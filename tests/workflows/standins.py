"""Stand-in activities, registered under the real names, over an in-memory world.

They behave like the services do (idempotent on the same keys) and record every effect,
so a test can check exactly-once: one hold, at most one capture, compensation done.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities import models as act


@dataclass
class World:
    """What the stand-in services hold, and how they should misbehave."""

    hold_ttl: timedelta = timedelta(minutes=15)
    nightly_rate: int = 10000
    sold_out: bool = False
    too_many_holds: bool = False  # the traveller keeps as many unpaid holds as allowed
    unknown_hotel: bool = False
    decline: bool = False
    attempts: list[int] = field(default_factory=list)  # each authorization's attempt number
    confirm_error: str | None = None  # e.g. act.HOLD_EXPIRED
    authorize_flaky: int = 0  # fail this many attempts with an infrastructure error
    hold_gate: asyncio.Event | None = None  # if given, a hold answers only once it is set
    capture_gate: asyncio.Event | None = None  # if given, a capture answers once it is set
    terms: act.HotelTerms = field(default_factory=act.HotelTerms)  # the hotel's, with a hold
    calls: list[str] = field(default_factory=list)
    holds: dict[str, str] = field(default_factory=dict)  # booking -> hold status
    payments: dict[str, dict] = field(default_factory=dict)  # booking -> payment
    documents: dict[str, dict] = field(default_factory=dict)  # key -> document
    emails: dict[str, act.EmailInput] = field(default_factory=dict)  # message key -> mail
    effects: Counter = field(default_factory=Counter)

    def activities(self) -> list:
        """The stand-in activity functions, by their real names."""
        world = self

        @activity.defn(name=act.DESCRIBE_HOTEL)
        async def describe_hotel(data: act.HotelRef) -> act.HotelInfo:
            world.calls.append(act.DESCRIBE_HOTEL)
            if world.unknown_hotel:
                raise ApplicationError(
                    "That hotel is not in our catalogue.", type=act.BAD_REQUEST, non_retryable=True
                )
            return act.HotelInfo(
                hotel_name="Grand Hotel Paris",
                hotel_address="1 Rue de Rivoli, Paris, France",
                room_type_name="Double Room",
                capacity=2,
            )

        @activity.defn(name=act.HOLD_ROOM)
        async def hold_room(data: act.HoldInput) -> act.Hold:
            world.calls.append(act.HOLD_ROOM)
            if world.hold_gate is not None:
                await world.hold_gate.wait()
            if world.sold_out:
                raise ApplicationError("sold out", type=act.SOLD_OUT, non_retryable=True)
            if world.too_many_holds:
                raise ApplicationError(
                    "You may hold at most 2 rooms at a time without paying for them.",
                    type=act.TOO_MANY_HOLDS,
                    non_retryable=True,
                )
            if data.booking_id not in world.holds:
                world.effects["hold"] += 1
            world.holds[data.booking_id] = "held"
            nights = [
                act.NightPrice(night=data.check_in + timedelta(days=i), price=world.nightly_rate)
                for i in range((data.check_out - data.check_in).days)
            ]
            return act.Hold(
                hold_id=f"hold-{data.booking_id}",
                expires_at=activity.info().current_attempt_scheduled_time + world.hold_ttl,
                nights=nights,
                total=sum(n.price for n in nights),
                currency="EUR",
                terms=world.terms,
            )

        @activity.defn(name=act.RELEASE_HOLD)
        async def release_hold(data: act.HoldRef) -> act.Done:
            world.calls.append(act.RELEASE_HOLD)
            world.holds[data.hold_id.removeprefix("hold-")] = "released"
            return act.Done()

        @activity.defn(name=act.CONFIRM_RESERVATION)
        async def confirm_reservation(data: act.HoldRef) -> act.Reservation:
            world.calls.append(act.CONFIRM_RESERVATION)
            if world.confirm_error:
                raise ApplicationError("nope", type=world.confirm_error, non_retryable=True)
            booking = data.hold_id.removeprefix("hold-")
            if world.holds[booking] != "confirmed":
                world.effects["reservation"] += 1
            world.holds[booking] = "confirmed"
            return act.Reservation(reservation_id=f"res-{booking}", confirmation_code="K7Q2ZP")

        @activity.defn(name=act.CANCEL_RESERVATION)
        async def cancel_reservation(data: act.ReservationRef) -> act.Done:
            world.calls.append(act.CANCEL_RESERVATION)
            world.holds[data.reservation_id.removeprefix("res-")] = "cancelled"
            return act.Done()

        @activity.defn(name=act.AUTHORIZE_PAYMENT)
        async def authorize_payment(data: act.AuthorizeInput) -> act.Payment:
            world.calls.append(act.AUTHORIZE_PAYMENT)
            world.attempts.append(data.attempt)
            if world.authorize_flaky > 0:
                world.authorize_flaky -= 1
                raise RuntimeError("bank timed out")
            if world.decline:
                raise ApplicationError(
                    "Your card was declined.", type=act.PAYMENT_DECLINED, non_retryable=True
                )
            if data.booking_id not in world.payments:
                world.effects["authorization"] += 1
                world.payments[data.booking_id] = {
                    "payment_id": uuid.uuid4().hex,
                    "status": "authorized",
                    "amount": data.amount,
                    "captured": 0,
                    "refunded": 0,
                    "currency": data.currency,
                    "card_brand": "visa",
                    "card_last4": "4242",
                }
            return act.Payment(**world.payments[data.booking_id])

        @activity.defn(name=act.CAPTURE_PAYMENT)
        async def capture_payment(data: act.PaymentRef) -> act.Payment:
            world.calls.append(act.CAPTURE_PAYMENT)
            if world.capture_gate is not None:
                await world.capture_gate.wait()
            payment = world.payments[data.booking_id]
            if payment["status"] == "authorized":
                world.effects["capture"] += 1
                payment.update(status="captured", captured=payment["amount"])
            return act.Payment(**payment)

        @activity.defn(name=act.VOID_PAYMENT)
        async def void_payment(data: act.PaymentRef) -> act.Payment:
            world.calls.append(act.VOID_PAYMENT)
            payment = world.payments.get(data.booking_id)
            if payment is None:
                return act.Payment(payment_id="", status="none", amount=0, currency="")
            payment["status"] = "voided"
            return act.Payment(**payment)

        @activity.defn(name=act.REFUND_PAYMENT)
        async def refund_payment(data: act.RefundInput) -> act.Payment:
            world.calls.append(act.REFUND_PAYMENT)
            payment = world.payments[data.booking_id]
            key = f"refund-{data.booking_id}-{data.refund_id}"
            if not world.effects[key]:
                world.effects[key] += 1
                payment["refunded"] += data.amount
                payment["status"] = "refunded"
            return act.Payment(**payment)

        @activity.defn(name=act.RENDER_DOCUMENT)
        async def render_document(data: act.DocumentInput) -> act.Document:
            world.calls.append(f"{act.RENDER_DOCUMENT}:{data.template}")
            document = world.documents.setdefault(
                data.key, {"id": f"doc-{len(world.documents) + 1}", "data": data.data}
            )
            return act.Document(document_id=document["id"])

        @activity.defn(name=act.SEND_EMAIL)
        async def send_email(data: act.EmailInput) -> act.Email:
            world.calls.append(f"{act.SEND_EMAIL}:{data.template}")
            world.emails.setdefault(data.message_key, data)
            return act.Email(message_id=f"<{data.message_key}@staysaga.local>")

        return [
            describe_hotel,
            hold_room,
            release_hold,
            confirm_reservation,
            cancel_reservation,
            authorize_payment,
            capture_payment,
            void_payment,
            refund_payment,
            render_document,
            send_email,
        ]
