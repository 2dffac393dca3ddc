"""A card token pays for one authorization, once, and only for the customer it was made for."""

import asyncio

from tests.support.money import PUBLISHABLE_KEY, card, key_headers, tokenize


def _type(response):
    return response.json()["type"].rsplit("/", 1)[-1]


async def _authorize(bank, token, key, reference="booking-1", customer=None):
    body = {"token": token, "amount": 10_000, "currency": "EUR", "reference": reference}
    if customer is not None:
        body["customer"] = customer
    return await bank.post("/authorizations", json=body, headers=key_headers(idempotency_key=key))


async def _authorizations(bank):
    return (await bank.get("/authorizations", headers=key_headers())).json()["items"]


async def _token_for(bank, customer):
    response = await bank.post(
        "/tokens", json=card(customer=customer), headers=key_headers(PUBLISHABLE_KEY)
    )
    assert response.status_code == 201, response.text
    return response.json()["token"]


async def test_a_token_authorizes_once_and_its_retry_replays_the_answer(money):
    token = await tokenize(money.bank)
    first = await _authorize(money.bank, token, key="booking-1:authorize")
    retry = await _authorize(money.bank, token, key="booking-1:authorize")
    assert first.status_code == retry.status_code == 201
    assert retry.json() == first.json()
    assert retry.headers["idempotent-replayed"] == "true"


async def test_a_used_token_is_refused_under_any_other_key_naming_the_token(money):
    token = await tokenize(money.bank)
    assert (await _authorize(money.bank, token, key="victim")).status_code == 201
    for key, reference in (("thief", "booking-2"), ("thief-again", "booking-1")):
        response = await _authorize(money.bank, token, key=key, reference=reference)
        assert response.status_code == 409, response.text
        assert _type(response) == "token-used"
        assert response.json()["field"] == "token"
    assert len(await _authorizations(money.bank)) == 1


async def test_two_authorizations_racing_for_one_token_never_both_succeed(money):
    token = await tokenize(money.bank)
    answers = await asyncio.gather(
        *(_authorize(money.bank, token, key=f"race-{i}", reference=f"b-{i}") for i in range(5))
    )
    assert sorted(a.status_code for a in answers) == [201, 409, 409, 409, 409]
    assert len(await _authorizations(money.bank)) == 1


async def test_a_declined_token_stays_declined_and_moves_nothing(money):
    token = await tokenize(money.bank, "4000000000000002")
    for key in ("a", "b"):
        response = await _authorize(money.bank, token, key=key)
        assert response.status_code == 402
    assert await _authorizations(money.bank) == []


async def test_a_token_made_for_a_customer_pays_only_for_them(money):
    token = await _token_for(money.bank, "user-ada")
    for customer in ("user-mallory", None):
        response = await _authorize(money.bank, token, key=f"k-{customer}", customer=customer)
        assert response.status_code == 422, response.text
        assert _type(response) == "token-of-another-customer"
        assert response.json()["field"] == "token"
    assert (
        await _authorize(money.bank, token, key="k-ada", customer="user-ada")
    ).status_code == 201
