"""Reconciliation: finding and undoing what bookings that gave up left authorized.

The saga's own void settles almost everything (see `authorization.settle_unrecorded`); what is
left — a workflow terminated before it voided, an intent from before intents kept their
facts — is found here by age and repaired on the reconciler's request.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from services.bank import api as bank_api
from services.common.db import as_utc, write_transaction
from services.payments import api
from services.payments.authorization import fence, void_late
from services.payments.bank import BankClient
from services.payments.domain import void
from services.payments.records import find, show
from services.payments.tables import intents, payments

log = logging.getLogger("staysaga.payments.reconciliation")


async def suspects(
    engine: AsyncEngine, query: api.SuspectQuery, now: datetime
) -> list[api.PaymentSuspect]:
    """Bookings whose payment may hold money nobody will capture, oldest change first.

    `unrecorded`: an intent still requested or voided, without a payment and not
    reconciled since it last changed (the bank may hold an authorization whose answer
    Payments never recorded). `uncaptured`: a payment still authorized.
    """
    newest = now - timedelta(seconds=query.older_than)
    oldest = now - timedelta(seconds=query.within)
    unrecorded = (
        sa.select(intents.c.booking_id, intents.c.state, intents.c.updated_at.label("since"))
        .select_from(intents.outerjoin(payments, payments.c.booking_id == intents.c.booking_id))
        .where(
            payments.c.booking_id.is_(None),
            intents.c.state.in_((api.INTENT_REQUESTED, api.INTENT_VOIDED)),
            intents.c.updated_at <= newest,
            intents.c.updated_at >= oldest,
            sa.or_(
                intents.c.reconciled_at.is_(None),
                intents.c.reconciled_at < intents.c.updated_at,
            ),
        )
        .order_by(intents.c.updated_at, intents.c.booking_id)
        .limit(query.limit)
    )
    uncaptured = (
        sa.select(payments.c.booking_id, payments.c.status, payments.c.updated_at.label("since"))
        .where(
            payments.c.status == api.AUTHORIZED,
            payments.c.updated_at <= newest,
            payments.c.updated_at >= oldest,
        )
        .order_by(payments.c.updated_at, payments.c.booking_id)
        .limit(query.limit)
    )
    async with engine.connect() as conn:
        found = [
            api.PaymentSuspect(
                booking_id=row.booking_id,
                kind=api.SUSPECT_UNRECORDED,
                state=row.state,
                since=as_utc(row.since),
            )
            for row in await conn.execute(unrecorded)
        ] + [
            api.PaymentSuspect(
                booking_id=row.booking_id,
                kind=api.SUSPECT_UNCAPTURED,
                state=row.status,
                since=as_utc(row.since),
            )
            for row in await conn.execute(uncaptured)
        ]
    found.sort(key=lambda s: (s.since, s.booking_id))
    return found[: query.limit]


async def _void_unrecorded(
    engine: AsyncEngine, bank: BankClient, booking_id: str, found: bank_api.Authorization
) -> None:
    """Void an authorization the bank holds for a booking Payments has no payment of, and
    record it as voided when the intent kept what was asked for."""
    async with engine.connect() as conn:
        intent = (
            await conn.execute(sa.select(intents).where(intents.c.booking_id == booking_id))
        ).first()
    if intent is None or intent.user_id is None or intent.card_token is None:
        await bank.void(booking_id, found.id)
        log.warning(
            "booking %s: voided bank authorization %s; its request is unknown, so no "
            "payment is recorded",
            booking_id,
            found.id,
        )
        return
    request = api.PaymentRequest(
        booking_id=booking_id,
        user_id=intent.user_id,
        amount=found.amount,
        currency=found.currency,
        card_token=intent.card_token,
    )
    await void_late(engine, bank, request, found)


async def repair(engine: AsyncEngine, bank: BankClient, booking_id: str) -> api.RepairResult:
    """Let nothing stay authorized for a booking that gave up; idempotent.

    Fences the intent (as a void does), then voids, under the booking's void key, any open
    authorization the bank holds for the booking that Payments never recorded, recording
    it; a recorded payment still authorized is voided as a void would. A captured payment
    is refused (409): a booking that took money did not give up.
    """
    voided: list[str] = []
    async with engine.connect() as conn:
        row = await find(conn, booking_id)
    if row is None and await fence(engine, booking_id) == api.INTENT_VOIDED:
        async with engine.connect() as conn:
            row = await find(conn, booking_id)
        if row is None:
            for found in await bank.search(booking_id):
                if found.status == bank_api.AUTHORIZED:
                    await _void_unrecorded(engine, bank, booking_id, found)
                    voided.append(found.id)
    if row is None:
        async with engine.connect() as conn:
            row = await find(conn, booking_id)
    if row is not None and row.status != api.VOIDED:
        await void(engine, bank, row)
        voided.append(row.bank_authorization_id)
    async with write_transaction(engine) as conn:
        await conn.execute(
            intents.update()
            .where(intents.c.booking_id == booking_id)
            .values(reconciled_at=datetime.now(UTC))
        )
    async with engine.connect() as conn:
        recorded = await find(conn, booking_id)
    payment = None if recorded is None else await show(engine, booking_id)
    return api.RepairResult(booking_id=booking_id, voided=voided, payment=payment)
