"""An idempotency key in flight is a lease: kept alive while its request works, taken over
soon after the process holding it died, never blocking a retry for a minute."""

import asyncio
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from services.bank import idempotency
from services.bank.tables import idempotency_keys
from tests.services.bank.test_bank import _authorize
from tests.support.harness import eventually
from tests.support.money import SLOW, tokenize


async def _claimed_at(money, key):
    async with money.bank_app.state.engine.connect() as conn:
        query = sa.select(idempotency_keys.c.started_at).where(idempotency_keys.c.key == key)
        value = (await conn.execute(query)).scalar_one()
    return value if value.tzinfo else value.replace(tzinfo=UTC)


async def _claim_of_a_dead_process(money, token, key, age):
    """A claim as a bank process leaves it when it dies mid-request, `age` ago."""
    body = {
        "token": token,
        "amount": 10_000,
        "currency": "EUR",
        "reference": "booking-1",
        "customer": None,
    }
    async with money.bank_app.state.engine.begin() as conn:
        await conn.execute(
            idempotency_keys.insert().values(
                key=key,
                fingerprint=idempotency.fingerprint("POST", "/authorizations", body),
                state=idempotency.IN_FLIGHT,
                started_at=datetime.now(UTC) - age,
            )
        )


async def test_a_claim_whose_process_died_is_taken_over_after_the_lease(money):
    token = await tokenize(money.bank)
    await _claim_of_a_dead_process(
        money, token, "crashed", idempotency.LEASE + timedelta(seconds=1)
    )
    retry = await _authorize(money.bank, token, key="crashed")
    assert retry.status_code == 201, retry.text


async def test_a_claim_within_its_lease_is_still_in_flight(money):
    token = await tokenize(money.bank)
    await _claim_of_a_dead_process(money, token, "busy", timedelta(0))
    retry = await _authorize(money.bank, token, key="busy")
    assert retry.status_code == 409
    assert retry.json()["type"].endswith("/idempotency-in-flight")


async def test_a_slow_request_keeps_its_lease_while_it_works(money, monkeypatch):
    monkeypatch.setattr(idempotency, "LEASE", timedelta(seconds=0.1))
    monkeypatch.setattr(idempotency, "RENEW_EVERY_SECONDS", 0.03)
    token = await tokenize(money.bank, SLOW)  # the slow card thinks 400 ms, past the lease
    first = asyncio.create_task(_authorize(money.bank, token, key="slow"))

    async def claimed():
        return await _claimed_at(money, "slow")

    taken = await eventually(claimed, timeout=5, interval=0.01)

    async def renewed_past_its_first_lease():
        assert await _claimed_at(money, "slow") > taken + idempotency.LEASE

    await eventually(renewed_past_its_first_lease, timeout=5, interval=0.01)
    duplicate = await _authorize(money.bank, token, key="slow")
    assert duplicate.status_code == 409, duplicate.text
    assert (await first).status_code == 201
