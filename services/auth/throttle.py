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

Guessing one password each on many accounts from one address never slows a pair down, so
failures also count per address, over every account: an address past `per_address` (100
an hour unless AUTH_SIGNIN_FAILURES_PER_ADDRESS says otherwise) waits until its oldest
failure in the hour falls out of it. Only failures count, and a success does not forget
them (one account of one's own must not wipe a guessing run), so an address that has
failed nothing is still never refused.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from limits import RateLimitItem, RateLimitItemPerHour, RateLimitItemPerMinute
from limits.aio.storage import MemoryStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter

from services.auth.settings import AuthSettings
from services.common.ratelimit import RecentKeys, seconds_to_wait, storage_for

# (failures, per window): each a step further in how long a pair waits.
DEFAULT_STEPS: tuple[RateLimitItem, ...] = (
    RateLimitItemPerMinute(5),
    RateLimitItemPerMinute(10, 15),
    RateLimitItemPerHour(20),
)
DEFAULT_MAX_PAIRS = 100_000
DEFAULT_PER_ADDRESS = RateLimitItemPerHour(100)
NAMESPACE = "staysaga-signin"


def _pair(email: str, address: str) -> str:
    """The key of an (account, address) pair; hashed, so no e-mail address is stored."""
    return hashlib.sha256(f"{email}\0{address}".encode()).hexdigest()[:32]


def _address(address: str) -> str:
    """The key of an address's failures over every account (apart from any pair's)."""
    return "address:" + hashlib.sha256(address.encode()).hexdigest()[:32]


class SignInThrottle:
    """Failed sign-ins per (account, address) pair, and how long a pair must wait."""

    def __init__(
        self,
        storage: Storage | None = None,
        steps: Sequence[RateLimitItem] = DEFAULT_STEPS,
        max_pairs: int = DEFAULT_MAX_PAIRS,
        per_address: RateLimitItem = DEFAULT_PER_ADDRESS,
    ) -> None:
        self.storage = storage if storage is not None else MemoryStorage()
        self.steps = tuple(steps)
        self.per_address = per_address
        self.window = max(step.get_expiry() for step in self.steps)
        self.limiter = MovingWindowRateLimiter(self.storage)
        # Only memory needs the caps: Redis expires keys by itself and is shared.
        in_memory = isinstance(self.storage, MemoryStorage)
        self._pairs: RecentKeys[str] | None = RecentKeys(max_pairs) if in_memory else None
        self._addresses: RecentKeys[str] | None = RecentKeys(max_pairs) if in_memory else None

    @classmethod
    def configured(cls, settings: AuthSettings) -> SignInThrottle:
        """The throttle the auth service's settings describe."""
        return cls(
            storage_for(settings.signin_throttle_storage),
            per_address=RateLimitItemPerHour(settings.signin_failures_per_address),
        )

    async def retry_after(self, email: str, address: str) -> int | None:
        """Seconds the pair must wait before its next attempt, or None if it may go on."""
        key = _pair(email, address)
        waits = [await seconds_to_wait(self.limiter, step, NAMESPACE, key) for step in self.steps]
        waits.append(
            await seconds_to_wait(self.limiter, self.per_address, NAMESPACE, _address(address))
        )
        return max((w for w in waits if w is not None), default=None)

    async def failed(self, email: str, address: str) -> None:
        """Count a wrong password from this address for this account."""
        key = _pair(email, address)
        for step in self.steps:
            await self.limiter.hit(step, NAMESPACE, key)
        where = _address(address)
        await self.limiter.hit(self.per_address, NAMESPACE, where)
        if self._pairs is not None and self._addresses is not None:
            for gone in self._pairs.hit(key, self.window):
                await self._forget(gone)
            for gone in self._addresses.hit(where, self.per_address.get_expiry()):
                await self.limiter.clear(self.per_address, NAMESPACE, gone)

    async def succeeded(self, email: str, address: str) -> None:
        """A right password forgets the pair's failures (not the address's)."""
        key = _pair(email, address)
        await self._forget(key)
        if self._pairs is not None:
            self._pairs.discard(key)

    async def _forget(self, key: str) -> None:
        for step in self.steps:
            await self.limiter.clear(step, NAMESPACE, key)

    @property
    def pairs(self) -> int:
        """How many pairs this copy keeps failures of (memory only)."""
        return len(self._pairs) if self._pairs is not None else 0

    @property
    def addresses(self) -> int:
        """How many addresses this copy keeps failures of (memory only)."""
        return len(self._addresses) if self._addresses is not None else 0
