"""Payment records as the API shows them, and the parts every change of one is built from.

Every change of a payment, made in `authorization` or `domain`, records the bank's answer:
the movement it is about and the transition row that says so.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from services.bank import api as bank_api
from services.common.db import as_utc
from services.common.problems import Problem, not_found
from services.payments import api
from services.payments.tables import payments, refunds, transitions


def mismatch(detail: str) -> Problem:
    """The 422 answer to a repeat of an earlier request with other values."""
    return Problem(
        422,
        api.IDEMPOTENCY_MISMATCH,
        "This repeats an earlier request with different values.",
        detail,
    )


def movement_of(result: bank_api.Authorization, kind: str) -> bank_api.Operation:
    """The ledger entry the bank's answer is about."""
    if result.last_operation is not None and result.last_operation.kind == kind:
        return result.last_operation
    return [op for op in result.operations if op.kind == kind][-1]


def transition_row(status: str, movement: bank_api.Operation) -> dict[str, Any]:
    """The values of the transition row recording a bank movement."""
    return {
        "status": status,
        "amount": movement.amount,
        "bank_reference": movement.id,
        "at": movement.at,
    }


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


async def load(engine: AsyncEngine, booking_id: str) -> Any:
    """The payment row of a booking, or 404 (owner checks are the caller's)."""
    async with engine.connect() as conn:
        row = await find(conn, booking_id)
    if row is None:
        raise not_found("payment", booking_id)
    return row
