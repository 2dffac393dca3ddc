"""Sign-in throttling: failed passwords slow down one account from one address, in
growing steps, and never lock anyone out.

Failures count per (account, address) pair in moving windows of growing length (the
`limits` library keeps them, in memory or in Redis). When a pair reaches a window's
limit, that pair waits until its oldest failure in the window falls out of it: a minute
after 5 quick failures, up to a quarter of an hour after 10, up to an hour after 20. A
guesser elsewhere cannot slow the account's owner down, and a traveller whose address
has failed nothing is never refused. A successful sign-in forgets the pair's failures.

In memory, a pair is forgotten once its last failure is older than the longest window,
and at most `max_pairs` pairs are kept (the least recently failed goes first), so a flood
of addresses costs bounded memory. With Redis (`AUTH_SIGNIN_THROTTLE_STORAGE=redis://...`),
every copy of the auth service counts the same failures and Redis expires them.
"""

from __future__ import annotations

import hashlib
import time
from collections import OrderedDict
from collections.abc import Sequence

from limits import RateLimitItem, RateLimitItemPerHour, RateLimitItemPerMinute
from limits.aio.storage import MemoryStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter

from services.common.ratelimit import seconds_to_wait

# (failures, per window): each a step further in how long a pair waits.
DEFAULT_STEPS: tuple[RateLimitItem, ...] = (
    RateLimitItemPerMinute(5),
    RateLimitItemPerMinute(10, 15),
    RateLimitItemPerHour(20),
)
DEFAULT_MAX_PAIRS = 100_000
NAMESPACE = "staysaga-signin"


def _pair(email: str, address: str) -> str:
    """The key of an (account, address) pair; hashed, so no e-mail address is stored."""
    return hashlib.sha256(f"{email}\0{address}".encode()).hexdigest()[:32]


class SignInThrottle:
    """Failed sign-ins per (account, address) pair, and how long a pair must wait."""

    def __init__(
        self,
        storage: Storage | None = None,
        steps: Sequence[RateLimitItem] = DEFAULT_STEPS,
        max_pairs: int = DEFAULT_MAX_PAIRS,
    ) -> None:
        self.storage = storage if storage is not None else MemoryStorage()
        self.steps = tuple(steps)
        self.window = max(step.get_expiry() for step in self.steps)
        self.limiter = MovingWindowRateLimiter(self.storage)
        # Only memory needs the cap: Redis expires keys by itself and is shared.
        self.max_pairs = max_pairs if isinstance(self.storage, MemoryStorage) else None
        # pair -> when it last failed, oldest first
        self._pairs: OrderedDict[str, float] = OrderedDict()

    async def retry_after(self, email: str, address: str) -> int | None:
        """Seconds the pair must wait before its next attempt, or None if it may go on."""
        key = _pair(email, address)
        waits = [await seconds_to_wait(self.limiter, step, NAMESPACE, key) for step in self.steps]
        return max((w for w in waits if w is not None), default=None)

    async def failed(self, email: str, address: str) -> None:
        """Count a wrong password from this address for this account."""
        key = _pair(email, address)
        for step in self.steps:
            await self.limiter.hit(step, NAMESPACE, key)
        await self._remember(key)

    async def succeeded(self, email: str, address: str) -> None:
        """A right password forgets the pair's failures."""
        key = _pair(email, address)
        await self._forget(key)
        self._pairs.pop(key, None)

    async def _remember(self, key: str) -> None:
        if self.max_pairs is None:
            return
        now = time.time()
        self._pairs[key] = now
        self._pairs.move_to_end(key)
        # Pairs whose every failure has left the longest window are gone from the
        # storage already; past the cap, the least recently failed pair goes too.
        while self._pairs:
            oldest, last_failed = next(iter(self._pairs.items()))
            if last_failed > now - self.window and len(self._pairs) <= self.max_pairs:
                break
            del self._pairs[oldest]
            await self._forget(oldest)

    async def _forget(self, key: str) -> None:
        for step in self.steps:
            await self.limiter.clear(step, NAMESPACE, key)

    @property
    def pairs(self) -> int:
        """How many pairs this copy keeps failures of (memory only)."""
        return len(self._pairs)
