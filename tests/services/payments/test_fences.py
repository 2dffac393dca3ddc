"""A void fences off the booking's payment: an authorization that comes after it, or that
lands at the bank after it, never stays open."""

import asyncio

import sqlalchemy as sa

from services.payments.tables import intents
from tests.support.harness import eventually
from tests.support.money import key_headers, tokenize


def _type(response):
    return response.json()["type"].rsplit("/", 1)[-1]


async def _pay(money, token, booking="b-1"):
    body = {
        "booking_id": booking,
        "user_id": "user-1",
        "amount": 25_000,
        "currency": "EUR",
        "card_token": token,
    }
    return await money.payments.post("/payments", json=body, headers=money.service())


async def _bank_view(money, booking="b-1"):
    listed = await money.bank.get(
        "/authorizations", params={"reference": booking}, headers=key_headers()
    )
    return listed.json()["items"]


async def _intent(money, booking="b-1"):
    async with money.payments_app.state.engine.connect() as conn:
        query = sa.select(intents.c.state).where(intents.c.booking_id == booking)
        return (await conn.execute(query)).scalar_one_or_none()


async def test_a_void_before_any_payment_is_recorded_and_refuses_a_later_authorization(money):
    voided = await money.payments.post("/payments/b-1/void", headers=money.service())
    assert voided.status_code == 200, voided.text
    assert voided.json() == {"booking_id": "b-1", "status": "voided", "payment": None}
    late = await _pay(money, await tokenize(money.bank))
    assert late.status_code == 409 and _type(late) == "payment-voided"
    assert await _bank_view(money) == []
    again = await money.payments.post("/payments/b-1/void", headers=money.service())
    assert again.json() == voided.json()


async def test_an_authorization_landing_after_the_void_is_voided_at_the_bank(money):
    token = await tokenize(money.bank)
    await money.set_faults(latency_ms=1500)
    paying = asyncio.create_task(_pay(money, token))

    async def asked_the_bank() -> None:
        assert await _intent(money) == "requested"

    await eventually(asked_the_bank, timeout=5, interval=0.02)

    # The caller gave up while the bank thinks: its compensation comes first. It learns
    # from the bank how the attempt ended (503 while that is unknown, asked again).
    async def voided() -> None:
        answer = await money.payments.post("/payments/b-1/void", headers=money.service())
        assert answer.status_code == 200, answer.text
        assert answer.json()["payment"] in (None, {**answer.json()["payment"], "status": "voided"})

    await eventually(voided, timeout=10, interval=0.2)
    late = await paying
    if late.status_code == 503:
        # The void's replay held the bank's key while this attempt asked: its outcome was
        # unknown, and a retry learns it.
        late = await _pay(money, token)
    refused = late.status_code == 409 and _type(late) == "payment-voided"
    assert refused or late.json()["status"] == "voided", late.text
    [bank] = await _bank_view(money)
    assert bank["status"] == "voided"
    assert [op["kind"] for op in bank["operations"]] == ["authorize", "void"]
    await money.set_faults()
    shown = await money.payments.get("/payments/b-1", headers=money.service())
    payment = shown.json()
    assert payment["status"] == "voided"
    assert [t["bank_reference"] for t in payment["transitions"]] == [
        op["id"] for op in bank["operations"]
    ]


async def test_a_void_after_the_payment_is_recorded_voids_it(money):
    assert (await _pay(money, await tokenize(money.bank))).status_code == 201
    voided = await money.payments.post("/payments/b-1/void", headers=money.service())
    assert voided.json()["payment"]["status"] == "voided"
    assert await _intent(money) == "authorized"


async def test_a_traveller_cannot_fence_a_booking_without_a_payment(money):
    response = await money.payments.post("/payments/b-9/void", headers=money.user("user-1"))
    assert response.status_code == 404
    assert await _intent(money, "b-9") is None


async def test_a_void_after_a_lost_authorization_answer_voids_it_at_the_bank(money):
    token = await tokenize(money.bank)
    await money.set_faults(timeout_rate=1.0)  # the bank authorizes; its answer is lost
    lost = await _pay(money, token)
    assert lost.status_code == 503
    await money.set_faults()
    [open_at_bank] = await _bank_view(money)
    assert open_at_bank["status"] == "authorized"
    voided = await money.payments.post("/payments/b-1/void", headers=money.service())
    assert voided.status_code == 200, voided.text
    assert voided.json()["payment"]["status"] == "voided"
    [bank] = await _bank_view(money)
    assert bank["status"] == "voided"
    late = await _pay(money, token)
    assert late.status_code == 200 or late.json()["status"] == "voided"


async def test_a_void_after_a_declined_attempt_leaves_nothing_to_void(money):
    from tests.support.money import DECLINED

    declined = await _pay(money, await tokenize(money.bank, DECLINED))
    assert declined.status_code == 402
    voided = await money.payments.post("/payments/b-1/void", headers=money.service())
    assert voided.status_code == 200 and voided.json()["payment"] is None
    assert await _bank_view(money) == []


async def test_a_void_while_the_attempt_is_still_at_the_bank_asks_again_later(money):
    token = await tokenize(money.bank)
    await money.set_faults(latency_ms=1500)
    paying = asyncio.create_task(_pay(money, token))

    async def asked_the_bank() -> None:
        assert await _intent(money) == "requested"

    await eventually(asked_the_bank, timeout=5, interval=0.02)
    await money.set_faults()

    async def settled() -> dict:
        voided = await money.payments.post("/payments/b-1/void", headers=money.service())
        assert voided.status_code == 200, voided.text
        return voided.json()

    answer = await eventually(settled, timeout=10, interval=0.2)
    await paying
    [bank] = await _bank_view(money)
    assert bank["status"] == "voided"
    assert answer["payment"] is None or answer["payment"]["status"] == "voided"
