"""The sign-in throttle: growing waits per (account, address), bounded memory, and one
count for every copy of the auth service when Redis holds it."""

from __future__ import annotations

import secrets
import time

import pytest
import time_machine
from limits import RateLimitItemPerHour

from services.auth.throttle import DEFAULT_STEPS, SignInThrottle
from services.common.ratelimit import storage_for

ADA = "ada@example.com"
HOME = "198.51.100.4"


async def fail(throttle: SignInThrottle, times: int, email: str = ADA, address: str = HOME):
    for _ in range(times):
        await throttle.failed(email, address)


async def test_the_wait_grows_with_each_step_of_failures():
    throttle = SignInThrottle()
    with time_machine.travel(time.time(), tick=False) as clock:
        await fail(throttle, 4)
        assert await throttle.retry_after(ADA, HOME) is None
        await fail(throttle, 1)
        first = await throttle.retry_after(ADA, HOME)
        assert first is not None and 0 < first <= 60

        clock.shift(61)
        assert await throttle.retry_after(ADA, HOME) is None
        await fail(throttle, 5)
        second = await throttle.retry_after(ADA, HOME)
        assert second is not None and 60 < second <= 15 * 60

        clock.shift(15 * 60)
        await fail(throttle, 10)
        third = await throttle.retry_after(ADA, HOME)
        assert third is not None and 15 * 60 < third <= 60 * 60


async def test_a_pair_waits_alone():
    throttle = SignInThrottle()
    await fail(throttle, 5)
    assert await throttle.retry_after(ADA, HOME) is not None
    assert await throttle.retry_after(ADA, "203.0.113.7") is None
    assert await throttle.retry_after("bo@example.com", HOME) is None


async def test_a_success_forgets_the_pairs_failures():
    throttle = SignInThrottle()
    await fail(throttle, 5)
    await throttle.succeeded(ADA, HOME)
    assert await throttle.retry_after(ADA, HOME) is None
    assert throttle.pairs == 0


async def test_memory_keeps_at_most_the_cap_of_pairs_forgetting_the_oldest():
    throttle = SignInThrottle(max_pairs=100)
    await fail(throttle, 5, address="192.0.2.1")
    for n in range(300):
        await throttle.failed(ADA, f"10.0.{n // 256}.{n % 256}")
    assert throttle.pairs == 100
    assert await throttle.retry_after(ADA, "192.0.2.1") is None  # forgotten first


async def test_memory_forgets_a_pair_once_its_failures_leave_the_longest_window():
    throttle = SignInThrottle()
    with time_machine.travel(time.time(), tick=False) as clock:
        for n in range(50):
            await throttle.failed(ADA, f"10.1.0.{n}")
        clock.shift(max(step.get_expiry() for step in DEFAULT_STEPS) + 1)
        await throttle.failed(ADA, HOME)
        assert throttle.pairs == 1


async def test_failures_over_many_accounts_slow_the_address_down():
    throttle = SignInThrottle(per_address=RateLimitItemPerHour(30))
    for n in range(30):
        await throttle.failed(f"guess{n}@example.com", HOME)
    wait = await throttle.retry_after(ADA, HOME)
    assert wait is not None and 0 < wait <= 3600
    assert await throttle.retry_after(ADA, "203.0.113.7") is None


async def test_a_success_does_not_forget_the_addresss_failures():
    throttle = SignInThrottle(per_address=RateLimitItemPerHour(10))
    for n in range(10):
        await throttle.failed(f"guess{n}@example.com", HOME)
    await throttle.succeeded(ADA, HOME)
    assert await throttle.retry_after(ADA, HOME) is not None


async def test_an_address_waits_only_until_its_oldest_failure_leaves_the_hour():
    throttle = SignInThrottle(per_address=RateLimitItemPerHour(10))
    with time_machine.travel(time.time(), tick=False) as clock:
        for n in range(10):
            await throttle.failed(f"guess{n}@example.com", HOME)
        assert await throttle.retry_after(ADA, HOME) is not None
        clock.shift(3601)
        assert await throttle.retry_after(ADA, HOME) is None


async def test_memory_keeps_at_most_the_cap_of_addresses():
    throttle = SignInThrottle(max_pairs=100, per_address=RateLimitItemPerHour(3))
    for n in range(3):
        await throttle.failed(f"guess{n}@example.com", "192.0.2.1")
    assert await throttle.retry_after(ADA, "192.0.2.1") is not None
    for n in range(300):
        await throttle.failed(ADA, f"10.0.{n // 256}.{n % 256}")
    assert throttle.addresses == 100
    assert await throttle.retry_after(ADA, "192.0.2.1") is None  # forgotten first


def test_a_storage_is_memory_or_redis():
    with pytest.raises(ValueError, match="memory:// or a redis:// URL"):
        storage_for("memcached://127.0.0.1:11211")


async def test_copies_sharing_redis_count_the_same_failures(redis_url):
    email = f"{secrets.token_hex(6)}@example.com"
    one = SignInThrottle(storage_for(redis_url))
    two = SignInThrottle(storage_for(redis_url))
    await fail(one, 3, email=email)
    await fail(two, 2, email=email)
    assert await one.retry_after(email, HOME) is not None
    await two.succeeded(email, HOME)
    assert await one.retry_after(email, HOME) is None


async def test_copies_sharing_redis_count_an_addresss_failures_together(redis_url):
    address = f"test-{secrets.token_hex(6)}"
    per_address = RateLimitItemPerHour(4)
    one = SignInThrottle(storage_for(redis_url), per_address=per_address)
    two = SignInThrottle(storage_for(redis_url), per_address=per_address)
    await one.failed("guess1@example.com", address)
    await one.failed("guess2@example.com", address)
    await two.failed("guess3@example.com", address)
    assert await one.retry_after(ADA, address) is None
    await two.failed("guess4@example.com", address)
    assert await one.retry_after(ADA, address) is not None
