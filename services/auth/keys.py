"""ES256 signing keys: one signs, every key whose tokens may still be alive is published.

Rotation adds a key that is published at once but signs only after `publish_ahead`, so
every service's cached key set has had time to learn it (services also refetch on an
unknown kid). A key stops signing when the next one activates, and stays published until
the last token it signed has expired; then it is deleted.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from joserfc.jwk import ECKey, KeySet
from sqlalchemy.ext.asyncio import AsyncEngine

from services.auth.tables import signing_keys
from services.common.auth import CLOCK_LEEWAY_SECONDS
from services.common.db import write_transaction

ACCESS_TOKEN_TTL = timedelta(minutes=10)
# An ID token is read once, when its client signs the person in; no longer than an access
# token, so the retired-key grace below covers it as well.
ID_TOKEN_TTL = ACCESS_TOKEN_TTL
# How long a server trusts its in-memory copy of the keys; well under DEFAULT_PUBLISH_AHEAD,
# so a rotated-in key is known to every copy of the auth service before it must sign.
KEY_CACHE_SECONDS = 30.0
DEFAULT_PUBLISH_AHEAD = timedelta(minutes=2)
RETIRED_KEY_GRACE = ACCESS_TOKEN_TTL + timedelta(seconds=CLOCK_LEEWAY_SECONDS + 60)


def utc(value: datetime) -> datetime:
    """A stored timestamp as aware UTC (SQLite hands back naive ones)."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def now_utc() -> datetime:
    """The current time, aware UTC."""
    return datetime.now(UTC)


@dataclass(frozen=True)
class SigningKey:
    """A stored key with the time it starts (and, once replaced, stops) signing."""

    key: ECKey
    activates_at: datetime
    retires_at: datetime | None

    @property
    def kid(self) -> str:
        """The key id in JWT headers and the JWKS."""
        return str(self.key.kid)


def new_key() -> ECKey:
    """A fresh P-256 key with a random kid."""
    return ECKey.generate_key(
        "P-256", parameters={"kid": uuid.uuid4().hex, "alg": "ES256", "use": "sig"}
    )


async def load_keys(engine: AsyncEngine) -> list[SigningKey]:
    """Every stored key, oldest first, each knowing when the next one took over."""
    async with engine.connect() as conn:
        rows = (
            await conn.execute(
                sa.select(signing_keys).order_by(signing_keys.c.activates_at, signing_keys.c.kid)
            )
        ).all()
    keys: list[SigningKey] = []
    for index, row in enumerate(rows):
        following = rows[index + 1].activates_at if index + 1 < len(rows) else None
        keys.append(
            SigningKey(
                ECKey.import_key(json.loads(row.private_jwk)),
                utc(row.activates_at),
                utc(following) if following is not None else None,
            )
        )
    return keys


class KeyRing:
    """The stored keys, reloaded from the database at most every KEY_CACHE_SECONDS."""

    def __init__(self, engine: AsyncEngine, max_age: float = KEY_CACHE_SECONDS) -> None:
        self.engine = engine
        self.max_age = max_age
        self._keys: list[SigningKey] = []
        self._loaded_at = float("-inf")

    async def keys(self) -> list[SigningKey]:
        """Every stored key (see `load_keys`), from memory while fresh."""
        if time.monotonic() - self._loaded_at > self.max_age:
            self._keys = await load_keys(self.engine)
            self._loaded_at = time.monotonic()
        return self._keys

    def forget(self) -> None:
        """Reload on next use (after a rotation in this process)."""
        self._loaded_at = float("-inf")


def active_key(keys: list[SigningKey], now: datetime) -> SigningKey:
    """The key that signs now: the newest one already active."""
    active = [k for k in keys if k.activates_at <= now]
    if not active:
        raise RuntimeError("no active signing key (run the auth service once to create one)")
    return active[-1]


def published(keys: list[SigningKey], now: datetime) -> list[SigningKey]:
    """Keys to publish: upcoming, active, and retired ones whose tokens may still live."""
    return [k for k in keys if k.retires_at is None or k.retires_at + RETIRED_KEY_GRACE > now]


def jwks(keys: list[SigningKey], now: datetime) -> dict[str, Any]:
    """The public JWKS document."""
    return dict(KeySet([k.key for k in published(keys, now)]).as_dict(private=False))


async def _insert(conn: Any, key: ECKey, now: datetime, activates_at: datetime) -> None:
    await conn.execute(
        signing_keys.insert().values(
            kid=key.kid,
            private_jwk=json.dumps(key.as_dict(private=True)),
            created_at=now,
            activates_at=activates_at,
        )
    )


async def _has_active(conn: Any, now: datetime) -> bool:
    query = sa.select(sa.func.count()).where(signing_keys.c.activates_at <= now)
    return bool((await conn.execute(query)).scalar())


async def ensure_signing_key(engine: AsyncEngine, now: datetime | None = None) -> None:
    """Create a key that signs at once if none does yet (at start-up)."""
    now = now or now_utc()
    async with write_transaction(engine) as conn:
        if not await _has_active(conn, now):
            await _insert(conn, new_key(), now, now)


async def rotate_keys(
    engine: AsyncEngine,
    publish_ahead: timedelta = DEFAULT_PUBLISH_AHEAD,
    now: datetime | None = None,
) -> str:
    """Add a new signing key (active after `publish_ahead`); drop keys long retired.

    Returns the new kid.
    """
    now = now or now_utc()
    key = new_key()
    async with write_transaction(engine) as conn:
        # With no key signing yet, nobody can have cached one: sign with the new key at once.
        ahead = publish_ahead if await _has_active(conn, now) else timedelta(0)
        await _insert(conn, key, now, now + ahead)
    for old in await load_keys(engine):
        if old.retires_at is not None and old.retires_at + RETIRED_KEY_GRACE <= now:
            async with engine.begin() as conn:
                await conn.execute(signing_keys.delete().where(signing_keys.c.kid == old.kid))
    return str(key.kid)
