"""The payment state machine: authorize, capture, void, refund — each recorded once.

The bank call comes first (with an idempotency key derived from the booking), then the
billing record changes by a conditional UPDATE in one transaction with its transition. A
crash between the two leaves the bank ahead of us; the caller's retry sends the same key,
gets the bank's stored answer and records it — and the unique bank reference of every
transition and refund makes recording the same movement twice impossible.

One module because it is the payment state machine: every change of a payment row, and of
the intent that fences it, is made here.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from services.bank import api as bank_api
from services.common.db import dialect_insert, first_write_wins, write_transaction
from services.common.problems import Problem, not_found
from services.payments import api
from services.payments.bank import BankClient, unavailable
from services.payments.tables import intents, payments, refunds, transitions

log = logging.getLogger("staysaga.payments")

SETTLED = (api.CAPTURED, api.PARTIALLY_REFUNDED, api.REFUNDED)


def _mismatch(detail: str) -> Problem:
    return Problem(
        422,
        api.IDEMPOTENCY_MISMATCH,
        "This repeats an earlier request with different values.",
        detail,
    )


def _wrong_state(row: Any, action: str) -> Problem:
    return Problem(
        409,
        api.INVALID_STATE,
        f"This payment cannot be {action}.",
        f"It is {row.status}.",
        status_now=row.status,
    )


def _movement(result: bank_api.Authorization, kind: str) -> bank_api.Operation:
    """The ledger entry the bank's answer is about."""
    if result.last_operation is not None and result.last_operation.kind == kind:
        return result.last_operation
    return [op for op in result.operations if op.kind == kind][-1]


def as_utc(value: datetime) -> datetime:
    """A time read from the database, as UTC (SQLite keeps no zone; everything stored is UTC)."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)


async def find(conn: AsyncConnection, booking_id: str) -> Any:
    """The payment row of a booking, or None."""
    query = sa.select(payments).where(payments.c.booking_id == booking_id)
    return (await conn.execute(query)).first()


async def hydrate(conn: AsyncConnection, rows: Sequence[Any]) -> list[api.Payment]:
    """Payment rows with their transitions and refunds, as the API shows them."""
    ids = [row.payment_id for row in rows]
    steps: dict[str, list[api.Transition]] = {i: [] for i in ids}
    given: dict[str, list[api.Refund]] = {i: [] for i in ids}
    if ids:
        for t in await conn.execute(
            sa.select(transitions)
            .where(transitions.c.payment_id.in_(ids))
            .order_by(transitions.c.id)
        ):
            steps[t.payment_id].append(
                api.Transition(
                    status=t.status,
                    at=as_utc(t.at),
                    bank_reference=t.bank_reference,
                    amount=t.amount,
                )
            )
        for r in await conn.execute(
            sa.select(refunds)
            .where(refunds.c.payment_id.in_(ids))
            .order_by(refunds.c.created_at, refunds.c.refund_id)
        ):
            given[r.payment_id].append(
                api.Refund(
                    refund_id=r.refund_id,
                    amount=r.amount,
                    currency=r.currency,
                    bank_reference=r.bank_reference,
                    created_at=as_utc(r.created_at),
                )
            )
    return [
        api.Payment(
            payment_id=row.payment_id,
            booking_id=row.booking_id,
            user_id=row.user_id,
            status=row.status,
            amount=row.amount,
            captured=row.captured,
            refunded=row.refunded,
            currency=row.currency,
            bank_authorization_id=row.bank_authorization_id,
            card_last4=row.card_last4,
            card_brand=row.card_brand,
            created_at=as_utc(row.created_at),
            transitions=steps[row.payment_id],
            refunds=given[row.payment_id],
        )
        for row in rows
    ]


async def show(engine: AsyncEngine, booking_id: str) -> api.Payment:
    """A booking's payment, or 404."""
    async with engine.connect() as conn:
        row = await find(conn, booking_id)
        if row is None:
            raise not_found("payment", booking_id)
        return (await hydrate(conn, [row]))[0]


async def list_for_user(engine: AsyncEngine, user_id: str, limit: int) -> list[api.Payment]:
    """A traveller's payments, newest first."""
    async with engine.connect() as conn:
        rows = list(
            await conn.execute(
                sa.select(payments)
                .where(payments.c.user_id == user_id)
                .order_by(payments.c.created_at.desc(), payments.c.payment_id)
                .limit(limit)
            )
        )
        return await hydrate(conn, rows)


def _same_request(row: Any, request: api.PaymentRequest) -> None:
    asked = (request.user_id, request.amount, request.currency, request.card_token)
    if (row.user_id, row.amount, row.currency, row.card_token) != asked:
        raise _mismatch(f"Booking {request.booking_id} already has a different payment.")


def _voided_problem(booking_id: str) -> Problem:
    return Problem(
        409,
        api.PAYMENT_VOIDED,
        "This booking's payment was voided.",
        f"Booking {booking_id} gave up on its payment; nothing stays authorized.",
        field="booking_id",
    )


async def _open_intent(
    engine: AsyncEngine, booking_id: str, request: api.PaymentRequest | None = None
) -> str:
    """Claim the booking's intent for an authorization; its state (`voided` if fenced).

    The request's facts are kept with it, so that an authorization whose answer never got
    recorded can still be recorded by a repair."""
    now = datetime.now(UTC)
    facts = {} if request is None else _intent_facts(request)
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
        return await _intent_state(conn, booking_id)


def _intent_facts(request: api.PaymentRequest) -> dict[str, Any]:
    return {
        "user_id": request.user_id,
        "amount": request.amount,
        "currency": request.currency,
        "card_token": request.card_token,
    }


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


def _transition(status: str, movement: bank_api.Operation) -> dict[str, Any]:
    return {
        "status": status,
        "amount": movement.amount,
        "bank_reference": movement.id,
        "at": movement.at,
    }


async def authorize(
    engine: AsyncEngine, bank: BankClient, request: api.PaymentRequest
) -> api.Payment:
    """Authorize a booking's payment, once; a repeat of the same request returns it.

    Refused (409 payment-voided) once the booking's payment was voided, even if the bank
    authorized meanwhile: that authorization is voided at the bank before the answer.
    """
    async with engine.connect() as conn:
        existing = await find(conn, request.booking_id)
    if existing is not None:
        _same_request(existing, request)
        return await show(engine, request.booking_id)
    if await _open_intent(engine, request.booking_id, request) == api.INTENT_VOIDED:
        raise _voided_problem(request.booking_id)
    result = await bank.authorize(
        request.booking_id, request.amount, request.currency, request.card_token
    )
    movement = _movement(result, bank_api.AUTHORIZE)
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
                    payment_id=payment_id, **_transition(api.AUTHORIZED, movement)
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
                (api.AUTHORIZED, _movement(result, bank_api.AUTHORIZE)),
                (api.VOIDED, _movement(voided, bank_api.VOID)),
            ):
                await conn.execute(
                    transitions.insert().values(
                        payment_id=payment_id, **_transition(status, movement)
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
    request = api.PaymentRequest(
        booking_id=booking_id,
        user_id=intent.user_id,
        amount=intent.amount,
        currency=intent.currency,
        card_token=intent.card_token,
    )
    try:
        result = await bank.authorize(
            booking_id, request.amount, request.currency, request.card_token
        )
    except Problem as problem:
        if problem.status >= 500:
            raise
        return  # declined or refused: nothing was authorized
    if result.status == bank_api.AUTHORIZED:
        await void_late(engine, bank, request, result)


async def load(engine: AsyncEngine, booking_id: str) -> Any:
    """The payment row of a booking, or 404 (owner checks are the caller's)."""
    async with engine.connect() as conn:
        row = await find(conn, booking_id)
    if row is None:
        raise not_found("payment", booking_id)
    return row


async def _record(
    engine: AsyncEngine,
    row: Any,
    from_status: str,
    values: dict[str, Any],
    transition: dict[str, Any],
) -> api.Payment:
    """Move the payment out of `from_status` and add its transition, unless a concurrent
    retry already did; the payment as it then stands."""
    now = datetime.now(UTC)

    async def record() -> api.Payment:
        async with write_transaction(engine) as conn:
            result = await conn.execute(
                payments.update()
                .where(payments.c.payment_id == row.payment_id, payments.c.status == from_status)
                .values(**values, updated_at=now)
            )
            if result.rowcount == 1:
                await conn.execute(
                    transitions.insert().values(payment_id=row.payment_id, **transition)
                )
        return await show(engine, row.booking_id)

    payment, _ = await first_write_wins(record, lambda: show(engine, row.booking_id))
    return payment


async def _catch_up(engine: AsyncEngine, bank: BankClient, row: Any, problem: Problem) -> None:
    """After the bank said the authorization moved on without us, record how it moved.

    That happens when a capture took effect but its answer was lost and, instead of
    retrying it, someone asked for a void (or the other way round): the billing record
    then learns the capture (or void) from the bank's ledger, so the two agree again.
    """
    if problem.type != api.INVALID_STATE:
        return
    found = await bank.authorization(row.bank_authorization_id)
    for kind, status in ((bank_api.CAPTURE, api.CAPTURED), (bank_api.VOID, api.VOIDED)):
        entries = [op for op in found.operations if op.kind == kind]
        if entries:
            values: dict[str, Any] = {"status": status}
            if kind == bank_api.CAPTURE:
                values["captured"] = entries[0].amount
            await _record(engine, row, api.AUTHORIZED, values, _transition(status, entries[0]))
            return


async def capture(
    engine: AsyncEngine, bank: BankClient, row: Any, amount: int | None
) -> api.Payment:
    """Capture the payment (all of it unless `amount` says less), once."""
    if row.status in SETTLED:
        if amount is not None and amount != row.captured:
            raise _mismatch(f"It was captured with {row.captured}, not {amount}.")
        return await show(engine, row.booking_id)
    if row.status != api.AUTHORIZED:
        raise _wrong_state(row, "captured")
    take = row.amount if amount is None else amount
    if take > row.amount:
        raise Problem(
            422,
            api.AMOUNT_TOO_LARGE,
            "You cannot capture more than was authorized.",
            f"At most {row.amount}.",
            field="amount",
        )
    try:
        result = await bank.capture(row.booking_id, row.bank_authorization_id, take)
    except Problem as problem:
        await _catch_up(engine, bank, row, problem)
        raise
    movement = _movement(result, bank_api.CAPTURE)
    return await _record(
        engine,
        row,
        api.AUTHORIZED,
        {"status": api.CAPTURED, "captured": movement.amount},
        _transition(api.CAPTURED, movement),
    )


async def void(engine: AsyncEngine, bank: BankClient, row: Any) -> api.Payment:
    """Void the authorization, once; refused once anything was captured."""
    if row.status == api.VOIDED:
        return await show(engine, row.booking_id)
    if row.status != api.AUTHORIZED:
        raise _wrong_state(row, "voided")
    try:
        result = await bank.void(row.booking_id, row.bank_authorization_id)
    except Problem as problem:
        await _catch_up(engine, bank, row, problem)
        raise
    movement = _movement(result, bank_api.VOID)
    return await _record(
        engine, row, api.AUTHORIZED, {"status": api.VOIDED}, _transition(api.VOIDED, movement)
    )


async def refund(
    engine: AsyncEngine, bank: BankClient, row: Any, request: api.RefundRequest
) -> api.Payment:
    """Refund part of the captured amount under the caller's refund id, once."""
    async with engine.connect() as conn:
        earlier = (
            await conn.execute(
                sa.select(refunds).where(
                    refunds.c.payment_id == row.payment_id,
                    refunds.c.refund_id == request.refund_id,
                )
            )
        ).first()
    if earlier is not None:
        if earlier.amount != request.amount:
            raise _mismatch(f"Refund {request.refund_id} was for {earlier.amount}.")
        return await show(engine, row.booking_id)
    if row.status not in SETTLED:
        raise _wrong_state(row, "refunded")
    if row.refunded + request.amount > row.captured:
        raise Problem(
            422,
            api.AMOUNT_TOO_LARGE,
            "You cannot refund more than was captured.",
            f"At most {row.captured - row.refunded} is left to refund.",
            field="amount",
        )
    result = await bank.refund(
        row.booking_id, row.bank_authorization_id, request.refund_id, request.amount
    )
    movement = _movement(result, bank_api.REFUND)
    now = datetime.now(UTC)
    refunded = payments.c.refunded + movement.amount
    new_status = sa.case(
        (refunded == payments.c.captured, api.REFUNDED), else_=api.PARTIALLY_REFUNDED
    )

    async def record() -> api.Payment:
        async with write_transaction(engine) as conn:
            await conn.execute(
                refunds.insert().values(
                    payment_id=row.payment_id,
                    refund_id=request.refund_id,
                    amount=movement.amount,
                    currency=row.currency,
                    bank_reference=movement.id,
                    created_at=movement.at,
                )
            )
            await conn.execute(
                payments.update()
                .where(payments.c.payment_id == row.payment_id)
                .values(refunded=refunded, status=new_status, updated_at=now)
            )
            status = (
                await conn.execute(
                    sa.select(payments.c.status).where(payments.c.payment_id == row.payment_id)
                )
            ).scalar_one()
            await conn.execute(
                transitions.insert().values(
                    payment_id=row.payment_id, **_transition(status, movement)
                )
            )
        return await show(engine, row.booking_id)

    # A concurrent retry that recorded this refund first stands.
    payment, _ = await first_write_wins(record, lambda: show(engine, row.booking_id))
    return payment
