"""Where rate-limit counts live: in this process's memory, or in Redis shared by every
copy of a service (the `limits` library's storages)."""

from __future__ import annotations

import math
import time

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
