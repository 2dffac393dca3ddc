"""Payments' /metrics shows the authorizations holding travellers' money."""

from datetime import UTC, datetime, timedelta

import time_machine
from prometheus_client.parser import text_string_to_metric_families

from tests.support.money import tokenize

OPEN = "staysaga_payments_open_authorizations"


async def open_authorizations(money) -> dict[str, float]:
    response = await money.payments.get("/metrics")
    assert response.status_code == 200
    return {
        sample.name: sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
        if sample.name.startswith(OPEN)
    }


async def authorize(money, booking: str) -> None:
    body = {
        "booking_id": booking,
        "user_id": "user-1",
        "amount": 25_000,
        "currency": "EUR",
        "card_token": await tokenize(money.bank),
    }
    response = await money.payments.post("/payments", json=body, headers=money.service())
    assert response.status_code == 201, response.text


async def test_open_authorizations_are_counted_until_captured_or_voided(money):
    assert await open_authorizations(money) == {OPEN: 0.0, f"{OPEN}_oldest_age_seconds": 0.0}

    await authorize(money, "b-1")
    await authorize(money, "b-2")
    both = await open_authorizations(money)
    assert both[OPEN] == 2.0 and both[f"{OPEN}_oldest_age_seconds"] >= 0.0

    voided = await money.payments.post("/payments/b-1/void", headers=money.service())
    assert voided.status_code == 200
    captured = await money.payments.post("/payments/b-2/capture", json={}, headers=money.service())
    assert captured.status_code == 200
    assert await open_authorizations(money) == {OPEN: 0.0, f"{OPEN}_oldest_age_seconds": 0.0}


async def test_the_oldest_open_authorization_ages_with_the_clock(money):
    await authorize(money, "b-old")
    with time_machine.travel(datetime.now(UTC) + timedelta(minutes=45)):
        aged = await open_authorizations(money)
    assert 45 * 60 <= aged[f"{OPEN}_oldest_age_seconds"] < 46 * 60
