"""A card token pays for one booking, once, and only for the traveller it was made for."""

import asyncio

from tests.support.money import PUBLISHABLE_KEY, card, key_headers, tokenize


def _type(response):
    return response.json()["type"].rsplit("/", 1)[-1]


async def _pay(money, token, booking, user="user-1"):
    body = {
        "booking_id": booking,
        "user_id": user,
        "amount": 25_000,
        "currency": "EUR",
        "card_token": token,
    }
    return await money.payments.post("/payments", json=body, headers=money.service())


async def _token_for(money, user):
    response = await money.bank.post(
        "/tokens", json=card(customer=user), headers=key_headers(PUBLISHABLE_KEY)
    )
    assert response.status_code == 201, response.text
    return response.json()["token"]


async def _held_at_the_bank(money):
    listed = await money.bank.get("/authorizations", headers=key_headers())
    return [a for a in listed.json()["items"] if a["status"] != "voided"]


async def test_a_token_that_paid_for_a_booking_pays_for_no_other(money):
    token = await tokenize(money.bank)
    assert (await _pay(money, token, "victims-booking", user="user-victim")).status_code == 201
    response = await _pay(money, token, "thiefs-booking", user="user-thief")
    assert response.status_code == 409, response.text
    assert _type(response) == "card-token-used"
    assert response.json()["field"] == "card_token"
    assert len(await _held_at_the_bank(money)) == 1
    # The payer is recorded: the booking's traveller.
    shown = await money.payments.get("/payments/victims-booking", headers=money.service())
    assert shown.json()["user_id"] == "user-victim"


async def test_a_token_another_payments_record_never_saw_is_refused_by_the_bank(money):
    token = await tokenize(money.bank)
    spent = await money.bank.post(
        "/authorizations",
        json={"token": token, "amount": 100, "currency": "EUR", "reference": "elsewhere"},
        headers=key_headers(idempotency_key="elsewhere"),
    )
    assert spent.status_code == 201
    response = await _pay(money, token, "b-1")
    assert response.status_code == 409, response.text
    assert _type(response) == "card-token-used"
    assert response.json()["field"] == "card_token"


async def test_bookings_racing_for_one_token_never_both_pay(money):
    token = await tokenize(money.bank)
    answers = await asyncio.gather(*(_pay(money, token, f"b-{i}") for i in range(4)))
    assert sorted(a.status_code for a in answers) == [201, 409, 409, 409]
    assert len(await _held_at_the_bank(money)) == 1


async def test_a_token_made_for_one_traveller_does_not_pay_for_anothers_booking(money):
    token = await _token_for(money, "user-ada")
    response = await _pay(money, token, "mallorys-booking", user="user-mallory")
    assert response.status_code == 422, response.text
    assert _type(response) == "card-token-of-another-payer"
    assert response.json()["field"] == "card_token"
    assert (await _pay(money, token, "adas-booking", user="user-ada")).status_code == 201
