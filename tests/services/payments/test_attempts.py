"""A booking may try another card after a decline: each attempt has its own bank key, a
declined attempt is final, at most one attempt is open at a time, and the void still
leaves nothing authorized."""

import contextlib
from typing import Any

import sqlalchemy as sa

from services.payments import api
from services.payments.client import PaymentsClient
from services.payments.tables import intents
from tests.support.money import (
    DECLINED,
    EXPIRED,
    INSUFFICIENT,
    PUBLISHABLE_KEY,
    SUCCEEDS,
    card,
    key_headers,
    tokenize,
)


def _type(response):
    return response.json()["type"].rsplit("/", 1)[-1]


async def _pay(money, token, attempt=None, booking="b-1"):
    body = {
        "booking_id": booking,
        "user_id": "user-1",
        "amount": 25_000,
        "currency": "EUR",
        "card_token": token,
    }
    if attempt is not None:
        body["attempt"] = attempt
    return await money.payments.post("/payments", json=body, headers=money.service())


async def _bank_view(money, booking="b-1"):
    listed = await money.bank.get(
        "/authorizations", params={"reference": booking}, headers=key_headers()
    )
    return listed.json()["items"]


async def _intent(money, booking="b-1"):
    async with money.payments_app.state.engine.connect() as conn:
        query = sa.select(intents).where(intents.c.booking_id == booking)
        return (await conn.execute(query)).one()


async def test_a_second_card_after_a_decline_authorizes_the_booking(money):
    declined = await _pay(money, await tokenize(money.bank, DECLINED))
    assert declined.status_code == 402 and _type(declined) == "card-declined"
    token = await tokenize(money.bank)
    paid = await _pay(money, token, attempt=2)
    assert paid.status_code == 201, paid.text
    assert paid.json()["status"] == "authorized"
    again = await _pay(money, token, attempt=2)
    assert again.status_code == 201 and again.json() == paid.json()
    [authorization] = await _bank_view(money)
    assert authorization["status"] == "authorized"
    intent = await _intent(money)
    assert (intent.state, intent.attempt, intent.declined_attempt) == ("authorized", 2, 1)


async def test_each_kind_of_decline_lets_the_next_attempt_come(money):
    for attempt, number in enumerate((DECLINED, INSUFFICIENT, EXPIRED), start=1):
        refused = await _pay(money, await tokenize(money.bank, number), attempt=attempt)
        assert refused.status_code == 402, refused.text
    paid = await _pay(money, await tokenize(money.bank), attempt=4)
    assert paid.status_code == 201, paid.text


async def test_a_declined_attempt_stays_declined_when_retried(money):
    token = await tokenize(money.bank, DECLINED)
    assert (await _pay(money, token)).status_code == 402
    retried = await _pay(money, token)
    assert retried.status_code == 402 and _type(retried) == "card-declined"
    assert (await _intent(money)).declined_attempt == 1


async def test_a_later_attempt_after_an_authorized_one_is_refused(money):
    first = await _pay(money, await tokenize(money.bank))
    assert first.status_code == 201
    second = await _pay(money, await tokenize(money.bank), attempt=2)
    assert second.status_code == 422 and _type(second) == "idempotency-mismatch"
    assert len(await _bank_view(money)) == 1


async def test_a_later_attempt_is_refused_while_the_one_before_is_undecided(money):
    await money.set_faults(timeout_rate=1.0)  # the bank authorizes; its answer is lost
    lost = await _pay(money, await tokenize(money.bank))
    assert lost.status_code == 503
    await money.set_faults()
    second = await _pay(money, await tokenize(money.bank), attempt=2)
    assert second.status_code == 409 and _type(second) == "payment-attempt-open"
    [only] = await _bank_view(money)
    assert (await _intent(money)).attempt == 1 and only["status"] == "authorized"


async def test_a_token_the_bank_refuses_lets_the_next_attempt_come(money):
    theirs = await money.bank.post(
        "/tokens",
        json=card(SUCCEEDS, customer="someone-else"),
        headers=key_headers(PUBLISHABLE_KEY),
    )
    assert theirs.status_code == 201, theirs.text
    refused = await _pay(money, theirs.json()["token"])
    assert refused.status_code == 422 and _type(refused) == "card-token-of-another-payer"
    assert (await _intent(money)).declined_attempt == 1
    paid = await _pay(money, await tokenize(money.bank), attempt=2)
    assert paid.status_code == 201, paid.text


async def test_an_earlier_attempt_after_a_later_one_is_refused(money):
    assert (await _pay(money, await tokenize(money.bank, DECLINED))).status_code == 402
    assert (await _pay(money, await tokenize(money.bank, DECLINED), attempt=2)).status_code == 402
    stale = await _pay(money, await tokenize(money.bank), attempt=1)
    assert stale.status_code == 409 and _type(stale) == "payment-attempt-superseded"
    assert await _bank_view(money) == []


async def test_a_void_after_declined_attempts_fences_off_the_next(money):
    assert (await _pay(money, await tokenize(money.bank, DECLINED))).status_code == 402
    voided = await money.payments.post("/payments/b-1/void", headers=money.service())
    assert voided.status_code == 200 and voided.json()["payment"] is None
    late = await _pay(money, await tokenize(money.bank), attempt=2)
    assert late.status_code == 409 and _type(late) == "payment-voided"
    assert await _bank_view(money) == []


async def test_a_void_after_a_lost_second_attempt_voids_it_at_the_bank(money):
    assert (await _pay(money, await tokenize(money.bank, DECLINED))).status_code == 402
    await money.set_faults(timeout_rate=1.0)  # the bank authorizes; its answer is lost
    lost = await _pay(money, await tokenize(money.bank), attempt=2)
    assert lost.status_code == 503
    await money.set_faults()
    [open_at_bank] = await _bank_view(money)
    assert open_at_bank["status"] == "authorized"
    voided = await money.payments.post("/payments/b-1/void", headers=money.service())
    assert voided.status_code == 200, voided.text
    assert voided.json()["payment"]["status"] == "voided"
    [bank] = await _bank_view(money)
    assert bank["status"] == "voided"


class _Recording(PaymentsClient):
    """The client, answering nothing: what it would send."""

    def __init__(self) -> None:
        self.sent: list[Any] = []

    async def _send(self, method, path, scope, body=None, query=None):
        self.sent.append(body)
        raise RuntimeError("not sent")


async def test_the_client_sends_a_first_attempt_as_it_always_did():
    client = _Recording()
    facts = {
        "booking_id": "b-1",
        "user_id": "user-1",
        "amount": 25_000,
        "currency": "EUR",
        "card_token": "tok_1",
    }
    for attempt in (1, 2):
        with contextlib.suppress(RuntimeError):
            await client.authorize(api.PaymentRequest(**facts, attempt=attempt))
    assert client.sent == [facts, {**facts, "attempt": 2}]
