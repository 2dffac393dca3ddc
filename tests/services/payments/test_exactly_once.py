"""Property: however retried operations interleave under injected bank faults, the bank's
ledger and Payments' billing records end up agreeing, and no money appears or vanishes."""

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import fresh_postgres_database
from tests.support.money import (
    DECLINED,
    INSUFFICIENT,
    SUCCEEDS,
    Money,
    key_headers,
    money_env,
    running_money,
    tokenize,
)

BOOKINGS = 3
AMOUNT = 10_000
MAX_ATTEMPTS = 300
DEFINITIVE = {200, 201, 402, 404, 409, 422}


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
async def shared_money(request, tmp_path_factory) -> AsyncIterator[Money]:
    """One bank and Payments for every example (each example uses its own bookings)."""
    tmp_path = tmp_path_factory.mktemp("exactly-once")
    async with contextlib.AsyncExitStack() as stack:
        if request.param == "sqlite":
            urls = [f"sqlite+aiosqlite:///{tmp_path}/{name}.db" for name in ("bank", "payments")]
        else:
            urls = [await stack.enter_async_context(fresh_postgres_database()) for _ in "bp"]
        yield await stack.enter_async_context(running_money(tmp_path, money_env(*urls)))


booking = st.integers(0, BOOKINGS - 1)
operation = st.one_of(
    st.tuples(st.just("authorize"), booking, st.sampled_from([AMOUNT, AMOUNT - 1_000])),
    st.tuples(st.just("capture"), booking, st.sampled_from([None, 4_000, AMOUNT])),
    st.tuples(st.just("void"), booking),
    st.tuples(
        st.just("refund"),
        booking,
        st.sampled_from(["cancel", "goodwill", "r3"]),
        st.sampled_from([1_000, 2_500, 6_000]),
    ),
)
# Operations in one batch run concurrently; batches run one after another.
schedule = st.lists(st.lists(operation, min_size=1, max_size=4), min_size=1, max_size=6)
cards = st.lists(
    st.sampled_from([SUCCEEDS, SUCCEEDS, SUCCEEDS, DECLINED, INSUFFICIENT]),
    min_size=BOOKINGS,
    max_size=BOOKINGS,
)


async def _retried(call):
    """Retry a call until it gives a definitive answer, as the saga's activities do."""
    for _ in range(MAX_ATTEMPTS):
        response = await call()
        if response.status_code != 503:
            assert response.status_code in DEFINITIVE, response.text
            return response
        await asyncio.sleep(0)  # let the attempt holding the bank's key finish
    raise AssertionError("never got a definitive answer")


def _call(money: Money, op: tuple, bookings: list[str], tokens: list[str]):
    kind, index = op[0], op[1]
    booking_id = bookings[index]
    headers = money.service()
    if kind == "authorize":
        body = {
            "booking_id": booking_id,
            "user_id": "traveller",
            "amount": op[2],
            "currency": "EUR",
            "card_token": tokens[index],
        }
        return lambda: money.payments.post("/payments", json=body, headers=headers)
    if kind == "capture":
        body = {} if op[2] is None else {"amount": op[2]}
        path = f"/payments/{booking_id}/capture"
        return lambda: money.payments.post(path, json=body, headers=headers)
    if kind == "void":
        path = f"/payments/{booking_id}/void"
        return lambda: money.payments.post(path, headers=headers)
    body = {"refund_id": op[2], "amount": op[3]}
    path = f"/payments/{booking_id}/refunds"
    return lambda: money.payments.post(path, json=body, headers=headers)


async def _assert_agree(money: Money, booking_id: str) -> None:
    shown = await money.payments.get(f"/payments/{booking_id}", headers=money.service())
    listed = await money.bank.get(
        "/authorizations", params={"reference": booking_id}, headers=key_headers()
    )
    at_bank = listed.json()["items"]
    if shown.status_code == 404:
        assert at_bank == [], "the bank holds money Payments does not know about"
        return
    payment = shown.json()
    [bank] = at_bank
    assert payment["bank_authorization_id"] == bank["id"]
    for field in ("status", "amount", "captured", "refunded", "currency"):
        assert payment[field] == bank[field], field
    assert payment["amount"] >= payment["captured"] >= payment["refunded"] >= 0
    # Money neither appears nor vanishes: the ledger adds up to the totals on both sides.
    ledger = bank["operations"]
    by_kind = {k: [op for op in ledger if op["kind"] == k] for k in ("authorize", "capture")}
    assert [op["amount"] for op in by_kind["authorize"]] == [bank["amount"]]
    assert sum(op["amount"] for op in by_kind["capture"]) == bank["captured"]
    refunds = [op for op in ledger if op["kind"] == "refund"]
    assert sum(op["amount"] for op in refunds) == bank["refunded"]
    assert sum(r["amount"] for r in payment["refunds"]) == payment["refunded"]
    assert {r["bank_reference"] for r in payment["refunds"]} == {op["id"] for op in refunds}
    steps = [t["bank_reference"] for t in payment["transitions"]]
    assert len(steps) == len(set(steps)) == len(ledger)
    assert set(steps) == {op["id"] for op in ledger}


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    plan=schedule,
    numbers=cards,
    error_rate=st.sampled_from([0.0, 0.2, 0.5]),
    timeout_rate=st.sampled_from([0.2, 0.5]),
    seed=st.integers(0, 2**32),
)
async def test_retried_operations_under_faults_leave_bank_and_billing_agreeing(
    shared_money, plan, numbers, error_rate, timeout_rate, seed
):
    money = shared_money
    run = uuid.uuid4().hex[:8]
    bookings = [f"{run}-{i}" for i in range(BOOKINGS)]
    await money.set_faults()
    tokens = [await tokenize(money.bank, number) for number in numbers]
    await money.set_faults(error_rate=error_rate, timeout_rate=timeout_rate, seed=seed)
    # Every booking is first paid for (concurrently), so the plan has something to work on.
    opening = [("authorize", i, AMOUNT) for i in range(BOOKINGS)]
    try:
        for batch in [opening, *plan]:
            await asyncio.gather(*(_retried(_call(money, op, bookings, tokens)) for op in batch))
    finally:
        await money.set_faults()
    for booking_id in bookings:
        await _assert_agree(money, booking_id)
