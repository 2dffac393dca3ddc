"""Where rate-limit counts live: in this process's memory, or in Redis shared by every
copy of a service (the `limits` library's storages)."""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Hashable
from typing import Generic, TypeVar

from limits import RateLimitItem
from limits.aio.storage import MemoryStorage, Storage
from limits.aio.strategies import RateLimiter
from limits.storage import storage_from_string


def storage_for(url: str) -> Storage:
    """The storage a setting names: `memory://` or a `redis://` / `rediss://` URL."""
    scheme = url.split("://", 1)[0]
    if url == "memory://":
        return MemoryStorage()
    if scheme not in ("redis", "rediss"):
        raise ValueError("must be memory:// or a redis:// URL")
    storage = storage_from_string(f"async+{url}", implementation="redispy")
    assert isinstance(storage, Storage)
    return storage


async def seconds_to_wait(limiter: RateLimiter, item: RateLimitItem, *keys: str) -> int | None:
    """How long until one more hit fits in `item`'s window for `keys`, or None if it fits
    now (whole seconds, at least 1: a `Retry-After`)."""
    if await limiter.test(item, *keys):
        return None
    stats = await limiter.get_window_stats(item, *keys)
    return max(1, math.ceil(stats.reset_time - time.time()))


K = TypeVar("K", bound=Hashable)


class RecentKeys(Generic[K]):
    """The keys a memory storage holds counts for, least recently hit first, so that a
    flood of new keys (addresses, sessions) costs bounded memory.

    `MemoryStorage` drops a key's events once they expire but keeps any number of live
    keys; this remembers when each key's last count leaves its window and, past `cap`
    keys, names the least recently hit for its owner to clear. Redis needs none of it: it
    expires keys by itself and is shared by every copy.
    """

    def __init__(self, cap: int) -> None:
        self.cap = cap
        # key -> when its last count leaves its window, least recently hit first
        self._until: OrderedDict[K, float] = OrderedDict()

    def hit(self, key: K, window: float) -> list[K]:
        """Note a count on `key` lasting `window` seconds; the keys to clear from storage
        (their counts have left their windows, or they are the oldest past the cap)."""
        now = time.time()
        self._until[key] = max(self._until.get(key, 0.0), now + window)
        self._until.move_to_end(key)
        gone = []
        while self._until:
            oldest, until = next(iter(self._until.items()))
            if until > now and len(self._until) <= self.cap:
                break
            del self._until[oldest]
            gone.append(oldest)
        return gone

    def discard(self, key: K) -> None:
        """Forget a key its owner has cleared."""
        self._until.pop(key, None)

    def __len__(self) -> int:
        return len(self._until)
