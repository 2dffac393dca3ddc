"""How many unpaid holds a traveller may keep at a time, counted where it is exact: inside
the transaction that takes the rooms (see `domain`)."""

from __future__ import annotations

import datetime as dt
import hashlib

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from services.common.problems import Problem
from services.reservations import api
from services.reservations.tables import holds


def _lock_key(user_id: str) -> int:
    """The traveller's PostgreSQL advisory lock: a stable signed 64-bit digest of the id."""
    return int.from_bytes(hashlib.blake2b(user_id.encode(), digest_size=8).digest(), signed=True)


async def limit_unpaid_holds(
    conn: AsyncConnection, user_id: str, limit: int, now: dt.datetime
) -> None:
    """409 `too-many-holds` if the traveller already keeps `limit` live unpaid holds.

    A hold is unpaid while `held` and not past its expiry (swept or not). Holds for one
    traveller are placed one at a time — SQLite's write transactions are, PostgreSQL's take
    the traveller's advisory lock, released at commit — so two racing cannot both pass.
    """
    if conn.dialect.name == "postgresql":
        await conn.execute(sa.select(sa.func.pg_advisory_xact_lock(_lock_key(user_id))))
    unpaid = (
        await conn.execute(
            sa.select(sa.func.count()).where(
                holds.c.user_id == user_id,
                holds.c.status == api.HOLD_HELD,
                holds.c.expires_at > now,
            )
        )
    ).scalar_one()
    if unpaid >= limit:
        raise Problem(
            409,
            api.TOO_MANY_HOLDS,
            "You already hold as many rooms as you may without paying.",
            f"You may hold at most {limit} rooms at a time without paying for them: "
            "pay for one of your holds, or let it go, first.",
            field="user_id",
            limit=limit,
        )
