"""A small in-process cache for catalogue reads.

The catalogue (cities, hotels, room types) changes only when it is seeded, so a city's
lookup and its list of candidate hotels can be reused for a short while; a reseed shows
within CATALOGUE_CACHE_SECONDS. Availability is never cached: it comes from Reservations
on every dated query.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Hashable
from typing import Any

CATALOGUE_CACHE_SECONDS = 60.0
CATALOGUE_CACHE_ENTRIES = 20_000


class TtlCache:
    """Least-recently-used entries, each kept for at most `ttl` seconds."""

    def __init__(
        self, ttl: float = CATALOGUE_CACHE_SECONDS, max_entries: int = CATALOGUE_CACHE_ENTRIES
    ) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._entries: OrderedDict[Hashable, tuple[float, Any]] = OrderedDict()

    def get(self, key: Hashable) -> Any | None:
        """The cached value, or None if absent or stale."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        stored_at, value = entry
        if time.monotonic() - stored_at > self.ttl:
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return value

    def put(self, key: Hashable, value: Any) -> None:
        """Remember a value (None is never cached: it means a miss)."""
        if value is None:
            return
        self._entries[key] = (time.monotonic(), value)
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)
