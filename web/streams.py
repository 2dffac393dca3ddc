"""How many progress streams a session holds open at once (`WEB_MAX_OPEN_STREAMS`).

In memory each copy of the website counts its own streams. With Redis
(`WEB_RATE_LIMIT_STORAGE=redis://...`) every copy counts in one sorted set per session:
each open stream is a member scored by when it must be over (its start plus the longest a
stream lives), and members past their score no longer count. A copy that dies with streams
open therefore holds their slots for one stream's life at most, never for good.
"""

from __future__ import annotations

import secrets
import time
from collections import Counter
from typing import Protocol

KEY_PREFIX = "staysaga-web:open-streams:"

# Drop the members past their end, then add this stream if there is room: one step, so
# two copies opening a stream at the same moment cannot both take the last slot.
_TAKE = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then
  return 0
end
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[4])
redis.call('EXPIRE', KEYS[1], ARGV[5])
return 1
"""


class StreamSlots(Protocol):
    """Open-stream slots per session."""

    max_open: int

    async def take(self, session: str) -> str | None:
        """A slot for one more stream of the session, or None if it holds its maximum."""

    async def give_back(self, session: str, slot: str) -> None:
        """The stream is over: its slot is free."""

    async def open_count(self, session: str) -> int:
        """How many streams of the session count as open."""

    async def aclose(self) -> None:
        """Let go of any connection."""


class MemoryStreamSlots:
    """Each copy counts its own open streams (the entries last as long as the streams)."""

    def __init__(self, max_open: int) -> None:
        self.max_open = max_open
        self.open: Counter[str] = Counter()

    async def take(self, session: str) -> str | None:
        """A slot for one more stream of the session, or None if it holds its maximum."""
        if self.open[session] >= self.max_open:
            return None
        self.open[session] += 1
        return session

    async def give_back(self, session: str, slot: str) -> None:
        """The stream is over: its slot is free."""
        self.open[session] -= 1
        if self.open[session] <= 0:
            del self.open[session]

    async def open_count(self, session: str) -> int:
        """How many streams of the session are open in this copy."""
        return self.open.get(session, 0)

    async def aclose(self) -> None:
        """Nothing to let go of."""


class RedisStreamSlots:
    """Every copy counts the same open streams, each ending at the latest after `life`."""

    def __init__(self, url: str, max_open: int, life: float) -> None:
        self.max_open = max_open
        self.life = life
        # Imported only here: the redis client loads OpenTelemetry's API, which a process
        # without Redis (or without tracing) need not hold.
        import redis.asyncio

        self.client = redis.asyncio.Redis.from_url(url)
        self._take = self.client.register_script(_TAKE)

    async def take(self, session: str) -> str | None:
        """A slot for one more stream of the session, or None if it holds its maximum."""
        slot = secrets.token_hex(8)
        now = time.time()
        taken = await self._take(
            keys=[KEY_PREFIX + session],
            args=[now, self.max_open, now + self.life, slot, int(self.life) + 1],
        )
        return slot if taken else None

    async def give_back(self, session: str, slot: str) -> None:
        """The stream is over: its slot is free."""
        await self.client.zrem(KEY_PREFIX + session, slot)

    async def open_count(self, session: str) -> int:
        """How many streams of the session count as open, in every copy."""
        return int(await self.client.zcount(KEY_PREFIX + session, time.time(), "+inf"))

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self.client.aclose()


def stream_slots(storage: str, max_open: int, life: float) -> StreamSlots:
    """Slots kept where the website's rate limits are (`WEB_RATE_LIMIT_STORAGE`)."""
    if storage == "memory://":
        return MemoryStreamSlots(max_open)
    return RedisStreamSlots(storage, max_open, life)
