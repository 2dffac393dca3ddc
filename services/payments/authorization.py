"""Authorizing a booking's payment, once, fenced by the booking's intent.

The bank call comes first (with an idempotency key derived from the booking and the
attempt: a booking whose card was declined may try another), then the
payment row and its first transition are recorded in one transaction with the intent's
move from `requested` to `authorized`. A crash between the two leaves the bank ahead of
us; the caller's retry sends the same key, gets the bank's stored answer and records it.
A booking that gave up voids its intent first (`fence`): an authorization landing after
that is voided at the bank and recorded as voided.

One module because the intent is the fence: every change of it is made here.
"""

from __future__ import annotations

import logging
import secrets
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from services.bank import api as bank_api
from services.common.db import dialect_insert, first_write_wins, write_transaction
from services.common.problems import Problem
from services.payments import api
from services.payments.bank import BankClient, token_used, unavailable
from services.payments.records import find, mismatch, movement_of, show, transition_row
from services.payments.tables import intents, payments, transitions

log = logging.getLogger("staysaga.payments")


def _same_request(row: Any, request: api.PaymentRequest) -> None:
    asked = (request.user_id, request.amount, request.currency, request.card_token)
    if (row.user_id, row.amount, row.currency, row.card_token) != asked:
        raise mismatch(f"Booking {request.booking_id} already has a different payment.")


def _voided_problem(booking_id: str) -> Problem:
    return Problem(
        409,
        api.PAYMENT_VOIDED,
        "This booking's payment was voided.",
        f"Booking {booking_id} gave up on its payment; nothing stays authorized.",
        field="booking_id",
    )


async def _open_intent(engine: AsyncEngine, request: api.PaymentRequest) -> Any:
    """Claim the booking's intent for this attempt; the intent as it then stands.

    A later attempt takes the intent over only while it is `requested` and the intent's
    attempt was declined, so at most one attempt is ever open at the bank. The request's
    facts are kept with it, so that an authorization whose answer never got recorded can
    still be recorded by a repair."""
    now = datetime.now(UTC)
    booking_id = request.booking_id
    facts = {**_intent_facts(request), "attempt": request.attempt}
    async with write_transaction(engine) as conn:
        await conn.execute(
            dialect_insert(conn)(intents)
            .values(
                booking_id=booking_id,
                state=api.INTENT_REQUESTED,
                created_at=now,
                updated_at=now,
                **facts,
            )
            .on_conflict_do_nothing(index_elements=["booking_id"])
        )
        if request.attempt > 1:
            await conn.execute(
                intents.update()
                .where(
                    intents.c.booking_id == booking_id,
                    intents.c.state == api.INTENT_REQUESTED,
                    sa.func.coalesce(intents.c.attempt, 1) < request.attempt,
                    sa.func.coalesce(intents.c.declined_attempt, 0)
                    >= sa.func.coalesce(intents.c.attempt, 1),
                )
                .values(updated_at=now, **facts)
            )
        query = sa.select(intents).where(intents.c.booking_id == booking_id)
        return (await conn.execute(query)).one()


def _refuse_another_attempt(intent: Any, request: api.PaymentRequest) -> None:
    """409 unless the intent is this attempt's: an earlier one was superseded, and a later
    one waits for the one before it to be declined."""
    current = intent.attempt or 1
    if request.attempt < current:
        raise Problem(
            409,
            api.PAYMENT_ATTEMPT_SUPERSEDED,
            "A later payment attempt was made for this booking.",
            f"Attempt {request.attempt} was followed by attempt {current}.",
            field="attempt",
        )
    if request.attempt > current:
        raise Problem(
            409,
            api.PAYMENT_ATTEMPT_OPEN,
            "The booking's previous payment attempt was not declined.",
            f"Attempt {current} of booking {request.booking_id} is still open.",
            field="attempt",
        )


async def _record_decline(engine: AsyncEngine, request: api.PaymentRequest) -> None:
    """Record that the bank declined or refused the attempt: it is final, and the next
    may come."""
    async with write_transaction(engine) as conn:
        await conn.execute(
            intents.update()
            .where(
                intents.c.booking_id == request.booking_id,
                sa.func.coalesce(intents.c.attempt, 1) == request.attempt,
            )
            .values(declined_attempt=request.attempt, updated_at=datetime.now(UTC))
        )


def _intent_facts(request: api.PaymentRequest) -> dict[str, Any]:
    return {
        "user_id": request.user_id,
        "amount": request.amount,
        "currency": request.currency,
        "card_token": request.card_token,
    }


async def _refuse_a_spent_token(engine: AsyncEngine, request: api.PaymentRequest) -> None:
    """409 if the token already paid for another booking.

    The bank, which consumes a token at its first authorization, is what makes this exact;
    this spares it (and the traveller) a call bound to be refused.
    """
    query = sa.select(payments.c.booking_id).where(
        payments.c.card_token == request.card_token,
        payments.c.booking_id != request.booking_id,
    )
    async with engine.connect() as conn:
        if (await conn.execute(query.limit(1))).first() is not None:
            raise token_used()


async def _intent_state(conn: AsyncConnection, booking_id: str) -> str:
    query = sa.select(intents.c.state).where(intents.c.booking_id == booking_id)
    return str((await conn.execute(query)).scalar_one())


def _payment_values(
    payment_id: str, request: api.PaymentRequest, result: bank_api.Authorization, now: datetime
) -> dict[str, Any]:
    return {
        "payment_id": payment_id,
        "booking_id": request.booking_id,
        "user_id": request.user_id,
        "status": api.AUTHORIZED,
        "amount": request.amount,
        "captured": 0,
        "refunded": 0,
        "currency": request.currency,
        "card_token": request.card_token,
        "card_last4": result.card.last4,
        "card_brand": result.card.brand,
        "bank_authorization_id": result.id,
        "created_at": now,
        "updated_at": now,
    }


async def authorize(
    engine: AsyncEngine, bank: BankClient, request: api.PaymentRequest
) -> api.Payment:
    """Authorize a booking's payment attempt, once; a repeat of the same request returns it.

    After a declined attempt the booking may make the next one, with another card token.

    Refused (409 payment-voided) once the booking's payment was voided, even if the bank
    authorized meanwhile: that authorization is voided at the bank before the answer.
    """
    async with engine.connect() as conn:
        existing = await find(conn, request.booking_id)
    if existing is not None:
        _same_request(existing, request)
        return await show(engine, request.booking_id)
    await _refuse_a_spent_token(engine, request)
    intent = await _open_intent(engine, request)
    if intent.state == api.INTENT_VOIDED:
        raise _voided_problem(request.booking_id)
    _refuse_another_attempt(intent, request)
    try:
        result = await bank.authorize(
            request.booking_id,
            request.amount,
            request.currency,
            request.card_token,
            request.user_id,
            request.attempt,
        )
    except Problem as problem:
        if 400 <= problem.status < 500:
            # The bank's final refusal (a decline, a token it will not take), stored under
            # the attempt's key: nothing can authorize under it any more.
            await _record_decline(engine, request)
        raise
    movement = movement_of(result, bank_api.AUTHORIZE)
    now = datetime.now(UTC)

    async def record() -> str:
        async with write_transaction(engine) as conn:
            settled = await conn.execute(
                intents.update()
                .where(
                    intents.c.booking_id == request.booking_id,
                    intents.c.state == api.INTENT_REQUESTED,
                )
                .values(state=api.INTENT_AUTHORIZED, updated_at=now)
            )
            if settled.rowcount != 1:
                return await _intent_state(conn, request.booking_id)
            payment_id = f"pay_{secrets.token_hex(12)}"
            await conn.execute(
                payments.insert().values(_payment_values(payment_id, request, result, now))
            )
            await conn.execute(
                transitions.insert().values(
                    payment_id=payment_id, **transition_row(api.AUTHORIZED, movement)
                )
            )
            return api.INTENT_AUTHORIZED

    async def replay() -> str:
        async with engine.connect() as conn:
            return await _intent_state(conn, request.booking_id)

    # The intent's state once recorded: `voided` if the booking's void fenced this off.
    state, _ = await first_write_wins(record, replay)
    if state == api.INTENT_VOIDED:
        await void_late(engine, bank, request, result)
        raise _voided_problem(request.booking_id)
    async with engine.connect() as conn:
        existing = await find(conn, request.booking_id)
    if existing is None:
        raise unavailable("The authorization is being recorded; try again.")
    _same_request(existing, request)
    return await show(engine, request.booking_id)


async def void_late(
    engine: AsyncEngine,
    bank: BankClient,
    request: api.PaymentRequest,
    result: bank_api.Authorization,
) -> None:
    """Void an authorization that landed after its booking's void, and record both."""
    log.warning("booking %s: authorization landed after its void; voiding it", request.booking_id)
    voided = await bank.void(request.booking_id, result.id)
    now = datetime.now(UTC)
    payment_id = f"pay_{secrets.token_hex(12)}"

    async def record() -> api.Payment:
        async with write_transaction(engine) as conn:
            values = _payment_values(payment_id, request, result, now)
            await conn.execute(payments.insert().values({**values, "status": api.VOIDED}))
            for status, movement in (
                (api.AUTHORIZED, movement_of(result, bank_api.AUTHORIZE)),
                (api.VOIDED, movement_of(voided, bank_api.VOID)),
            ):
                await conn.execute(
                    transitions.insert().values(
                        payment_id=payment_id, **transition_row(status, movement)
                    )
                )
        return await show(engine, request.booking_id)

    await first_write_wins(record, lambda: show(engine, request.booking_id))


async def fence(engine: AsyncEngine, booking_id: str) -> str:
    """Record that the booking gave up on its payment, unless one is already recorded.

    Returns the intent's state: `voided` (no payment will stay authorized) or `authorized`
    (a payment row exists: void that instead).
    """
    now = datetime.now(UTC)
    async with write_transaction(engine) as conn:
        await conn.execute(
            dialect_insert(conn)(intents)
            .values(booking_id=booking_id, state=api.INTENT_VOIDED, created_at=now, updated_at=now)
            .on_conflict_do_nothing(index_elements=["booking_id"])
        )
        await conn.execute(
            intents.update()
            .where(intents.c.booking_id == booking_id, intents.c.state == api.INTENT_REQUESTED)
            .values(state=api.INTENT_VOIDED, updated_at=now)
        )
        return await _intent_state(conn, booking_id)


async def settle_unrecorded(engine: AsyncEngine, bank: BankClient, booking_id: str) -> None:
    """After a void, learn from the bank how an unrecorded authorization attempt ended, and
    void it if it went through.

    An attempt whose answer Payments never recorded (the answer was lost, Payments was
    frozen or killed while the bank worked) may have authorized the card. Replaying it
    under the same idempotency key gets the bank's stored answer (or, if the bank never
    saw it, an authorization voided at once): never an authorization left open. While the
    first attempt is still at the bank the replay is refused as in flight, and the void
    answers 503, so the saga asks again. A booking whose void came before any attempt has
    nothing to settle.
    """
    async with engine.connect() as conn:
        intent = (
            await conn.execute(sa.select(intents).where(intents.c.booking_id == booking_id))
        ).first()
        recorded = await find(conn, booking_id)
    if recorded is not None or intent is None or intent.card_token is None:
        return
    attempt = intent.attempt or 1
    if (intent.declined_attempt or 0) >= attempt:
        return  # the latest attempt was declined, and so was every one before it
    request = api.PaymentRequest(
        booking_id=booking_id,
        user_id=intent.user_id,
        amount=intent.amount,
        currency=intent.currency,
        card_token=intent.card_token,
        attempt=attempt,
    )
    try:
        result = await bank.authorize(
            booking_id,
            request.amount,
            request.currency,
            request.card_token,
            request.user_id,
            attempt,
        )
    except Problem as problem:
        if problem.status >= 500:
            raise
        return  # declined or refused: nothing was authorized
    if result.status == bank_api.AUTHORIZED:
        await void_late(engine, bank, request, result)
