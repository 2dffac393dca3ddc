"""The bank's ledger: tokenize cards, authorize, capture, void and refund.

Every movement is a conditional UPDATE of the authorization's totals (the database also
CHECKs amount >= captured >= refunded) plus a ledger entry, in the caller's transaction.
"""

from __future__ import annotations

import secrets
from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from services.bank import api
from services.bank.cards import Behaviour, behaviour, brand, luhn_valid
from services.bank.tables import authorizations, cards, ledger_entries
from services.common.db import as_utc
from services.common.problems import Problem, ValidationProblem, not_found, wrong_state

_DECLINE_TITLES = {
    Behaviour.DECLINE: "The card was declined.",
    Behaviour.INSUFFICIENT_FUNDS: "The card has insufficient funds.",
    Behaviour.EXPIRED: "The card has expired.",
}


def new_id(prefix: str) -> str:
    """An opaque identifier, e.g. tok_3f9a...."""
    return f"{prefix}_{secrets.token_hex(12)}"


def _expired(exp_month: int, exp_year: int, today: date) -> bool:
    return (exp_year, exp_month) < (today.year, today.month)


async def tokenize(conn: AsyncConnection, card: api.TokenRequest, now: datetime) -> api.CardToken:
    """Keep a card and hand back a token for it; refuses numbers failing the Luhn check."""
    if not luhn_valid(card.number):
        raise ValidationProblem([{"field": "number", "message": "is not a valid card number"}])
    if _expired(card.exp_month, card.exp_year, now.date()):
        raise ValidationProblem([{"field": "exp_year", "message": "the card has expired"}])
    token = api.CardToken(
        token=new_id("tok"),
        brand=brand(card.number),
        last4=card.number[-4:],
        exp_month=card.exp_month,
        exp_year=card.exp_year,
    )
    await conn.execute(
        cards.insert().values(
            token=token.token,
            behaviour=behaviour(card.number).value,
            brand=token.brand,
            last4=token.last4,
            exp_month=card.exp_month,
            exp_year=card.exp_year,
            holder=card.holder,
            created_at=now,
            customer=card.customer,
        )
    )
    return token


async def card_behaviour(conn: AsyncConnection, token: str) -> Behaviour:
    """How the card behind a token behaves (422 naming `token` if there is none)."""
    row = (await conn.execute(sa.select(cards).where(cards.c.token == token))).first()
    if row is None:
        raise Problem(422, api.UNKNOWN_TOKEN, "No such card token.", field="token")
    if _expired(row.exp_month, row.exp_year, datetime.now(UTC).date()):
        return Behaviour.EXPIRED
    return Behaviour(row.behaviour)


def decline(kind: Behaviour) -> Problem:
    """The 402 answer for a declined card."""
    return Problem(402, kind.value, _DECLINE_TITLES[kind], field="token", decline_code=kind.value)


async def _entry(
    conn: AsyncConnection, authorization_id: str, kind: str, amount: int, key: str, now: datetime
) -> None:
    seq = (
        await conn.execute(
            sa.select(sa.func.count()).where(ledger_entries.c.authorization_id == authorization_id)
        )
    ).scalar_one()
    await conn.execute(
        ledger_entries.insert().values(
            id=new_id({"authorize": "ath", "capture": "cap", "void": "vd", "refund": "re"}[kind]),
            authorization_id=authorization_id,
            seq=seq + 1,
            kind=kind,
            amount=amount,
            idempotency_key=key,
            created_at=now,
        )
    )


async def _use_token(
    conn: AsyncConnection, request: api.AuthorizationRequest, now: datetime
) -> None:
    """Consume the token for this authorization, or refuse it (naming `token`).

    One conditional UPDATE, so two authorizations racing for one token cannot both have it.
    """
    row = (await conn.execute(sa.select(cards).where(cards.c.token == request.token))).first()
    if row is not None and row.customer is not None and row.customer != request.customer:
        raise Problem(
            422,
            api.TOKEN_OF_ANOTHER_CUSTOMER,
            "This card token was made for another customer.",
            field="token",
        )
    used = await conn.execute(
        cards.update()
        .where(cards.c.token == request.token, cards.c.used_at.is_(None))
        .values(used_at=now)
    )
    if used.rowcount != 1:
        raise Problem(
            409,
            api.TOKEN_USED,
            "This card token was already used.",
            "A token pays for one authorization; tokenize the card again.",
            field="token",
        )


async def authorize(
    conn: AsyncConnection, request: api.AuthorizationRequest, key: str, now: datetime
) -> api.Authorization:
    """Reserve the amount on the card, consuming its token (the caller has already applied
    the card's behaviour)."""
    await _use_token(conn, request, now)
    authorization_id = new_id("auth")
    await conn.execute(
        authorizations.insert().values(
            id=authorization_id,
            token=request.token,
            customer=request.customer,
            amount=request.amount,
            currency=request.currency,
            reference=request.reference,
            status=api.AUTHORIZED,
            captured=0,
            refunded=0,
            created_at=now,
            updated_at=now,
        )
    )
    await _entry(conn, authorization_id, api.AUTHORIZE, request.amount, key, now)
    return await load(conn, authorization_id, last=True)


async def _current(conn: AsyncConnection, authorization_id: str) -> Any:
    row = (
        await conn.execute(sa.select(authorizations).where(authorizations.c.id == authorization_id))
    ).first()
    if row is None:
        raise not_found("authorization", authorization_id)
    return row


def _wrong_state(row: Any, action: str) -> Problem:
    return wrong_state(api.INVALID_STATE, "authorization", row.status, action)


async def capture(
    conn: AsyncConnection, authorization_id: str, amount: int | None, key: str, now: datetime
) -> api.Authorization:
    """Capture some or all of an authorization, once; the rest is released."""
    row = await _current(conn, authorization_id)
    take = row.amount if amount is None else amount
    if row.status != api.AUTHORIZED:
        raise _wrong_state(row, "captured")
    if take > row.amount:
        raise Problem(
            422,
            api.AMOUNT_TOO_LARGE,
            "You cannot capture more than was authorized.",
            f"At most {row.amount} can be captured.",
            field="amount",
        )
    result = await conn.execute(
        authorizations.update()
        .where(
            authorizations.c.id == authorization_id,
            authorizations.c.status == api.AUTHORIZED,
            authorizations.c.amount >= take,
        )
        .values(status=api.CAPTURED, captured=take, updated_at=now)
    )
    if result.rowcount != 1:
        raise _wrong_state(await _current(conn, authorization_id), "captured")
    await _entry(conn, authorization_id, api.CAPTURE, take, key, now)
    return await load(conn, authorization_id, last=True)


async def void(
    conn: AsyncConnection, authorization_id: str, key: str, now: datetime
) -> api.Authorization:
    """Release an authorization nothing has been captured of."""
    row = await _current(conn, authorization_id)
    result = await conn.execute(
        authorizations.update()
        .where(authorizations.c.id == authorization_id, authorizations.c.status == api.AUTHORIZED)
        .values(status=api.VOIDED, updated_at=now)
    )
    if result.rowcount != 1:
        raise _wrong_state(row, "voided")
    await _entry(conn, authorization_id, api.VOID, row.amount, key, now)
    return await load(conn, authorization_id, last=True)


async def refund(
    conn: AsyncConnection, authorization_id: str, amount: int, key: str, now: datetime
) -> api.Authorization:
    """Give back part or all of what was captured; several refunds may add up to it."""
    row = await _current(conn, authorization_id)
    if row.status not in (api.CAPTURED, api.PARTIALLY_REFUNDED, api.REFUNDED):
        raise _wrong_state(row, "refunded")
    refunded = authorizations.c.refunded + amount
    result = await conn.execute(
        authorizations.update()
        .where(
            authorizations.c.id == authorization_id,
            authorizations.c.status.in_((api.CAPTURED, api.PARTIALLY_REFUNDED)),
            refunded <= authorizations.c.captured,
        )
        .values(
            refunded=refunded,
            status=sa.case(
                (refunded == authorizations.c.captured, api.REFUNDED),
                else_=api.PARTIALLY_REFUNDED,
            ),
            updated_at=now,
        )
    )
    if result.rowcount != 1:
        row = await _current(conn, authorization_id)
        if row.status == api.REFUNDED or row.refunded + amount > row.captured:
            raise Problem(
                422,
                api.AMOUNT_TOO_LARGE,
                "You cannot refund more than was captured.",
                f"At most {row.captured - row.refunded} is left to refund.",
                field="amount",
            )
        raise _wrong_state(row, "refunded")
    await _entry(conn, authorization_id, api.REFUND, amount, key, now)
    return await load(conn, authorization_id, last=True)


async def load(
    conn: AsyncConnection, authorization_id: str, *, last: bool = False
) -> api.Authorization:
    """An authorization with its ledger; `last` marks the newest entry as the answer's."""
    row = await _current(conn, authorization_id)
    return (await _with_ledger(conn, [row], last=last))[0]


async def _with_ledger(
    conn: AsyncConnection, rows: list[Any], *, last: bool = False
) -> list[api.Authorization]:
    ids = [row.id for row in rows]
    entries: dict[str, list[api.Operation]] = {i: [] for i in ids}
    if ids:
        found = await conn.execute(
            sa.select(ledger_entries)
            .where(ledger_entries.c.authorization_id.in_(ids))
            .order_by(ledger_entries.c.authorization_id, ledger_entries.c.seq)
        )
        for entry in found:
            entries[entry.authorization_id].append(
                api.Operation(
                    id=entry.id, kind=entry.kind, amount=entry.amount, at=as_utc(entry.created_at)
                )
            )
    tokens = {row.token for row in rows}
    card_rows = {
        c.token: c
        for c in await conn.execute(
            sa.select(cards.c.token, cards.c.brand, cards.c.last4).where(cards.c.token.in_(tokens))
        )
    }
    return [
        api.Authorization(
            id=row.id,
            status=row.status,
            amount=row.amount,
            currency=row.currency,
            captured=row.captured,
            refunded=row.refunded,
            reference=row.reference,
            card=api.Card(brand=card_rows[row.token].brand, last4=card_rows[row.token].last4),
            created_at=as_utc(row.created_at),
            operations=entries[row.id],
            last_operation=entries[row.id][-1] if last and entries[row.id] else None,
        )
        for row in rows
    ]


async def search(
    conn: AsyncConnection, reference: str | None, limit: int
) -> list[api.Authorization]:
    """Authorizations, newest first, optionally only those with a merchant reference."""
    query = sa.select(authorizations).order_by(authorizations.c.created_at.desc()).limit(limit)
    if reference is not None:
        query = query.where(authorizations.c.reference == reference)
    rows = list(await conn.execute(query))
    return await _with_ledger(conn, rows)
