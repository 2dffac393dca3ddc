"""Idempotency keys: one answer per key, stored with the movement it describes.

A request first claims its key (committed on its own, so a concurrent duplicate sees it in
flight); the movement and the stored answer then commit in one transaction, so an answer is
stored if and only if the money moved. A claim is a lease: the request holding it renews it
while it works, so a claim whose process died (crashed, killed) goes stale within
`LEASE` and a retry takes it over, instead of being told "in flight" for a minute.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from services.bank.api import IDEMPOTENCY_IN_FLIGHT, IDEMPOTENCY_MISMATCH
from services.bank.tables import idempotency_keys
from services.common.db import as_utc, write_transaction
from services.common.problems import Problem

IN_FLIGHT = "in_flight"
DONE = "done"
LEASE = timedelta(seconds=6)
RENEW_EVERY_SECONDS = LEASE.total_seconds() / 3


@dataclass(frozen=True)
class StoredAnswer:
    """The first answer given under a key."""

    status: int
    body: dict[str, Any]


def fingerprint(method: str, path: str, body: dict[str, Any]) -> str:
    """A digest of what was asked, to tell a true retry from a reused key."""
    canonical = json.dumps([method, path, body], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


async def claim(engine: AsyncEngine, key: str, digest: str) -> StoredAnswer | None:
    """Claim the key for this request, or return the answer it already has.

    Raises 422 if the key was used for another request, 409 while it is in flight.
    """
    for _ in range(2):
        try:
            return await _claim_once(engine, key, digest)
        except IntegrityError:
            continue  # a concurrent request inserted the key first: judge against it
    raise _in_flight()


def _in_flight() -> Problem:
    return Problem(
        409,
        IDEMPOTENCY_IN_FLIGHT,
        "A request with this idempotency key is still in progress.",
        "Retry once it has finished.",
        headers={"Retry-After": "1"},
    )


async def _claim_once(engine: AsyncEngine, key: str, digest: str) -> StoredAnswer | None:
    now = datetime.now(UTC)
    async with write_transaction(engine) as conn:
        row = (
            await conn.execute(sa.select(idempotency_keys).where(idempotency_keys.c.key == key))
        ).first()
        if row is None:
            await conn.execute(
                idempotency_keys.insert().values(
                    key=key, fingerprint=digest, state=IN_FLIGHT, started_at=now
                )
            )
            return None
        if row.fingerprint != digest:
            raise Problem(
                422,
                IDEMPOTENCY_MISMATCH,
                "This idempotency key was used for another request.",
                "Use a new Idempotency-Key for a different request.",
                field="Idempotency-Key",
            )
        if row.state == DONE:
            return StoredAnswer(row.response_status, json.loads(row.response_body))
        if now - as_utc(row.started_at) < LEASE:
            raise _in_flight()
        # The request that claimed it died before committing anything: take it over, unless
        # another retry just did.
        taken = await conn.execute(
            idempotency_keys.update()
            .where(
                idempotency_keys.c.key == key,
                idempotency_keys.c.state == IN_FLIGHT,
                idempotency_keys.c.started_at == row.started_at,
            )
            .values(started_at=now)
        )
        if taken.rowcount != 1:
            raise _in_flight()
        return None


async def _renew(engine: AsyncEngine, key: str) -> None:
    async with engine.begin() as conn:
        await conn.execute(
            idempotency_keys.update()
            .where(idempotency_keys.c.key == key, idempotency_keys.c.state == IN_FLIGHT)
            .values(started_at=datetime.now(UTC))
        )


@contextlib.asynccontextmanager
async def holding(engine: AsyncEngine, key: str) -> AsyncIterator[None]:
    """Keep a claimed key's lease alive while the request works on it."""

    async def renew() -> None:
        while True:
            await asyncio.sleep(RENEW_EVERY_SECONDS)
            await _renew(engine, key)

    renewer = asyncio.create_task(renew())
    try:
        yield
    finally:
        renewer.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await renewer


async def complete(conn: AsyncConnection, key: str, status: int, body: dict[str, Any]) -> None:
    """Store the answer, inside the transaction that moved the money."""
    await conn.execute(
        idempotency_keys.update()
        .where(idempotency_keys.c.key == key)
        .values(
            state=DONE,
            response_status=status,
            response_body=json.dumps(body),
            finished_at=datetime.now(UTC),
        )
    )


async def release(engine: AsyncEngine, key: str) -> None:
    """Forget a claim whose request failed without an answer, so a retry runs again."""
    async with engine.begin() as conn:
        await conn.execute(
            idempotency_keys.delete().where(
                idempotency_keys.c.key == key, idempotency_keys.c.state == IN_FLIGHT
            )
        )
