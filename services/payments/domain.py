"""Capture, void and refund of a recorded payment, each recorded once.

The bank call comes first (with an idempotency key derived from the booking), then the
billing record changes by a conditional UPDATE in one transaction with its transition. A
crash between the two leaves the bank ahead of us; the caller's retry sends the same key,
gets the bank's stored answer and records it — and the unique bank reference of every
transition and refund makes recording the same movement twice impossible.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from services.bank import api as bank_api
from services.common.db import first_write_wins, write_transaction
from services.common.problems import Problem, wrong_state
from services.payments import api
from services.payments.bank import BankClient
from services.payments.records import mismatch, movement_of, show, transition_row
from services.payments.tables import payments, refunds, transitions

SETTLED = (api.CAPTURED, api.PARTIALLY_REFUNDED, api.REFUNDED)


def _wrong_state(row: Any, action: str) -> Problem:
    return wrong_state(api.INVALID_STATE, "payment", row.status, action)


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
            await _record(engine, row, api.AUTHORIZED, values, transition_row(status, entries[0]))
            return


async def capture(
    engine: AsyncEngine, bank: BankClient, row: Any, amount: int | None
) -> api.Payment:
    """Capture the payment (all of it unless `amount` says less), once."""
    if row.status in SETTLED:
        if amount is not None and amount != row.captured:
            raise mismatch(f"It was captured with {row.captured}, not {amount}.")
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
    movement = movement_of(result, bank_api.CAPTURE)
    return await _record(
        engine,
        row,
        api.AUTHORIZED,
        {"status": api.CAPTURED, "captured": movement.amount},
        transition_row(api.CAPTURED, movement),
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
    movement = movement_of(result, bank_api.VOID)
    return await _record(
        engine, row, api.AUTHORIZED, {"status": api.VOIDED}, transition_row(api.VOIDED, movement)
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
            raise mismatch(f"Refund {request.refund_id} was for {earlier.amount}.")
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
    movement = movement_of(result, bank_api.REFUND)
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
                    payment_id=row.payment_id, **transition_row(status, movement)
                )
            )
        return await show(engine, row.booking_id)

    # A concurrent retry that recorded this refund first stands.
    payment, _ = await first_write_wins(record, lambda: show(engine, row.booking_id))
    return payment
