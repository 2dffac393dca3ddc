import asyncio

import pytest

from services.common.settings import SettingsError
from services.payments.app import create_app
from services.payments.bank import idempotency_key
from tests.support.harness import problem_field, settings_for
from tests.support.money import (
    DECLINED,
    EXPIRED,
    INSUFFICIENT,
    SLOW,
    key_headers,
    tokenize,
)
from tests.support.tokens import assert_refuses_bad_tokens


def _type(response):
    return response.json()["type"].rsplit("/", 1)[-1]


async def _pay(money, token, booking="b-1", user="user-1", amount=25_000, headers=None):
    body = {
        "booking_id": booking,
        "user_id": user,
        "amount": amount,
        "currency": "EUR",
        "card_token": token,
    }
    return await money.payments.post("/payments", json=body, headers=headers or money.service())


async def _paid(money, booking="b-1", amount=25_000, user="user-1"):
    response = await _pay(money, await tokenize(money.bank), booking, user=user, amount=amount)
    assert response.status_code == 201, response.text
    return response.json()


async def _bank_view(money, booking):
    listed = await money.bank.get(
        "/authorizations", params={"reference": booking}, headers=key_headers()
    )
    return listed.json()["items"]


async def test_authorizing_records_the_payment_with_its_bank_reference(money):
    payment = await _paid(money)
    assert payment["status"] == "authorized"
    assert (payment["amount"], payment["captured"], payment["refunded"]) == (25_000, 0, 0)
    assert (payment["currency"], payment["card_last4"], payment["card_brand"]) == (
        "EUR",
        "4242",
        "visa",
    )
    [bank] = await _bank_view(money, "b-1")
    assert payment["bank_authorization_id"] == bank["id"]
    [step] = payment["transitions"]
    assert step["status"] == "authorized"
    assert step["bank_reference"] == bank["operations"][0]["id"]


async def test_a_retried_authorization_returns_the_same_payment_and_charges_once(money):
    token = await tokenize(money.bank)
    first = await _pay(money, token)
    again = await _pay(money, token)
    assert again.status_code == 201
    assert again.json() == first.json()
    assert len(await _bank_view(money, "b-1")) == 1


async def test_a_different_authorization_for_the_same_booking_is_422(money):
    token = await tokenize(money.bank)
    await _pay(money, token, amount=100)
    response = await _pay(money, token, amount=200)
    assert response.status_code == 422
    assert _type(response) == "idempotency-mismatch"


@pytest.mark.parametrize(
    ("number", "kind"),
    [
        (DECLINED, "card-declined"),
        (INSUFFICIENT, "insufficient-funds"),
        (EXPIRED, "expired-card"),
    ],
)
async def test_declines_are_402_with_their_own_type_and_record_nothing(money, number, kind):
    token = await tokenize(money.bank, number)
    response = await _pay(money, token)
    assert response.status_code == 402
    assert _type(response) == kind
    assert (await _pay(money, token)).status_code == 402
    shown = await money.payments.get("/payments/b-1", headers=money.service())
    assert shown.status_code == 404


async def test_the_slow_card_is_authorized(money):
    response = await _pay(money, await tokenize(money.bank, SLOW))
    assert response.status_code == 201


async def test_an_unknown_card_token_is_422_naming_it(money):
    response = await _pay(money, "tok_nope")
    assert response.status_code == 422
    assert problem_field(response) == "card_token"


async def test_capture_takes_the_whole_amount_once(money):
    await _paid(money)
    first = await money.payments.post("/payments/b-1/capture", json={}, headers=money.service())
    assert first.status_code == 200
    assert (first.json()["status"], first.json()["captured"]) == ("captured", 25_000)
    again = await money.payments.post("/payments/b-1/capture", json={}, headers=money.service())
    assert again.json() == first.json()
    [bank] = await _bank_view(money, "b-1")
    assert [op["kind"] for op in bank["operations"]] == ["authorize", "capture"]
    assert [t["status"] for t in first.json()["transitions"]] == ["authorized", "captured"]


async def test_partial_capture_and_a_different_repeat(money):
    await _paid(money)
    part = await money.payments.post(
        "/payments/b-1/capture", json={"amount": 20_000}, headers=money.service()
    )
    assert part.json()["captured"] == 20_000
    same = await money.payments.post(
        "/payments/b-1/capture", json={"amount": 20_000}, headers=money.service()
    )
    assert same.status_code == 200
    other = await money.payments.post(
        "/payments/b-1/capture", json={"amount": 1}, headers=money.service()
    )
    assert other.status_code == 422 and _type(other) == "idempotency-mismatch"
    over = await money.payments.post(
        "/payments/b-2/capture", json={"amount": 1}, headers=money.service()
    )
    assert over.status_code == 404


async def test_capture_beyond_the_authorization_is_422(money):
    await _paid(money)
    response = await money.payments.post(
        "/payments/b-1/capture", json={"amount": 25_001}, headers=money.service()
    )
    assert response.status_code == 422 and problem_field(response) == "amount"


async def test_void_is_idempotent_and_ends_the_payment(money):
    await _paid(money)
    first = await money.payments.post("/payments/b-1/void", headers=money.service())
    assert first.status_code == 200 and first.json()["status"] == "voided"
    again = await money.payments.post("/payments/b-1/void", json={}, headers=money.service())
    assert again.json() == first.json()
    capture = await money.payments.post("/payments/b-1/capture", json={}, headers=money.service())
    assert capture.status_code == 409 and _type(capture) == "invalid-state"
    [bank] = await _bank_view(money, "b-1")
    assert bank["status"] == "voided"


async def test_void_after_capture_is_409(money):
    await _paid(money)
    await money.payments.post("/payments/b-1/capture", json={}, headers=money.service())
    response = await money.payments.post("/payments/b-1/void", headers=money.service())
    assert response.status_code == 409 and _type(response) == "invalid-state"


async def test_refunds_are_idempotent_per_refund_id_and_capped(money):
    await _paid(money, amount=10_000)
    await money.payments.post("/payments/b-1/capture", json={}, headers=money.service())
    refund = {"amount": 3_000, "refund_id": "cancel"}
    first = await money.payments.post("/payments/b-1/refunds", json=refund, headers=money.service())
    assert first.status_code == 201
    assert (first.json()["status"], first.json()["refunded"]) == ("partially_refunded", 3_000)
    again = await money.payments.post("/payments/b-1/refunds", json=refund, headers=money.service())
    assert again.json() == first.json()
    changed = await money.payments.post(
        "/payments/b-1/refunds", json={**refund, "amount": 1}, headers=money.service()
    )
    assert changed.status_code == 422 and _type(changed) == "idempotency-mismatch"
    over = await money.payments.post(
        "/payments/b-1/refunds", json={"amount": 7_001, "refund_id": "x"}, headers=money.service()
    )
    assert over.status_code == 422 and _type(over) == "amount-too-large"
    rest = await money.payments.post(
        "/payments/b-1/refunds", json={"amount": 7_000, "refund_id": "y"}, headers=money.service()
    )
    body = rest.json()
    assert (body["status"], body["refunded"]) == ("refunded", 10_000)
    assert [(r["refund_id"], r["amount"]) for r in body["refunds"]] == [
        ("cancel", 3_000),
        ("y", 7_000),
    ]
    [bank] = await _bank_view(money, "b-1")
    assert bank["refunded"] == 10_000
    refs = {op["id"] for op in bank["operations"] if op["kind"] == "refund"}
    assert refs == {r["bank_reference"] for r in body["refunds"]}


async def test_refund_before_capture_is_409(money):
    await _paid(money)
    response = await money.payments.post(
        "/payments/b-1/refunds", json={"amount": 1, "refund_id": "r"}, headers=money.service()
    )
    assert response.status_code == 409


async def test_a_bank_outage_is_a_retryable_503_and_the_retry_charges_once(money):
    token = await tokenize(money.bank)
    await money.set_faults(error_rate=1.0)
    response = await _pay(money, token)
    assert response.status_code == 503
    assert _type(response) == "bank-unavailable"
    assert response.headers["retry-after"]
    await money.set_faults()
    assert (await _pay(money, token)).status_code == 201
    assert len(await _bank_view(money, "b-1")) == 1


@pytest.mark.parametrize("operation", ["authorize", "capture", "void", "refund"])
async def test_a_lost_bank_answer_is_503_and_the_retry_records_what_happened(money, operation):
    token = await tokenize(money.bank)
    calls = {
        "authorize": lambda: _pay(money, token),
        "capture": lambda: money.payments.post(
            "/payments/b-1/capture", json={}, headers=money.service()
        ),
        "void": lambda: money.payments.post("/payments/b-1/void", headers=money.service()),
        "refund": lambda: money.payments.post(
            "/payments/b-1/refunds", json={"amount": 5, "refund_id": "r"}, headers=money.service()
        ),
    }
    order = ["authorize", "capture", "refund"] if operation != "void" else ["authorize", "void"]
    for step in order[: order.index(operation)]:
        assert (await calls[step]()).status_code < 300
    await money.set_faults(timeout_rate=1.0)
    lost = await calls[operation]()
    assert lost.status_code == 503 and lost.headers["retry-after"]
    await money.set_faults()
    done = await calls[operation]()
    assert done.status_code < 300, done.text
    [bank] = await _bank_view(money, "b-1")
    payment = done.json()["payment"] if operation == "void" else done.json()
    assert (payment["status"], payment["captured"], payment["refunded"]) == (
        bank["status"],
        bank["captured"],
        bank["refunded"],
    )
    assert [t["bank_reference"] for t in payment["transitions"]] == [
        op["id"] for op in bank["operations"]
    ]


async def test_concurrent_retries_of_one_authorization_charge_once(money):
    token = await tokenize(money.bank, SLOW)
    answers = await asyncio.gather(*(_pay(money, token) for _ in range(3)))
    statuses = sorted(a.status_code for a in answers)
    assert 201 in statuses and set(statuses) <= {201, 503}
    assert len(await _bank_view(money, "b-1")) == 1


async def test_bank_idempotency_keys_derive_from_booking_and_operation():
    assert idempotency_key("b-1", "capture") == "staysaga:b-1:capture"
    assert idempotency_key("b-1", "refund", "cancel") == "staysaga:b-1:refund:cancel"


async def test_payments_refuses_to_start_without_the_bank_key(tmp_path):
    with pytest.raises(SettingsError) as caught:
        create_app(settings_for(tmp_path, {}))
    assert caught.value.variable == "BANK_SECRET_KEY"


async def test_reads_show_a_payment_and_list_a_travellers_own(money):
    await _paid(money, "b-1", user="alice")
    await _paid(money, "b-2", user="alice")
    await _paid(money, "b-3", user="bob")
    alice = money.user("alice", "payments:read")
    shown = await money.payments.get("/payments/b-1", headers=alice)
    assert shown.status_code == 200 and shown.json()["refunds"] == []
    own = await money.payments.get("/payments", headers=alice)
    assert {p["booking_id"] for p in own.json()["items"]} == {"b-1", "b-2"}
    by_service = await money.payments.get(
        "/payments", params={"user_id": "bob"}, headers=money.service("payments:read")
    )
    assert [p["booking_id"] for p in by_service.json()["items"]] == ["b-3"]
    unsaid = await money.payments.get("/payments", headers=money.service("payments:read"))
    assert unsaid.status_code == 400 and problem_field(unsaid) == "user_id"


async def test_a_traveller_cannot_see_or_touch_anothers_payment(money):
    await _paid(money, "b-1", user="alice")
    bob = money.user("bob")
    for method, path, body in [
        ("GET", "/payments/b-1", None),
        ("POST", "/payments/b-1/capture", {}),
        ("POST", "/payments/b-1/void", {}),
        ("POST", "/payments/b-1/refunds", {"amount": 1, "refund_id": "r"}),
    ]:
        response = await money.payments.request(method, path, json=body, headers=bob)
        assert response.status_code == 404, (method, path)
    listed = await money.payments.get("/payments", params={"user_id": "alice"}, headers=bob)
    assert listed.status_code == 404
    token = await tokenize(money.bank)
    for_alice = await _pay(money, token, booking="b-9", user="alice", headers=bob)
    assert for_alice.status_code == 403
    hijack = await _pay(money, token, booking="b-1", user="bob", headers=bob)
    assert hijack.status_code == 404


async def test_a_traveller_may_pay_for_their_own_booking(money):
    token = await tokenize(money.bank)
    response = await _pay(money, token, user="alice", headers=money.user("alice"))
    assert response.status_code == 201


@pytest.mark.parametrize(
    ("method", "path", "scope", "body"),
    [
        ("POST", "/payments", "payments:charge", {}),
        ("GET", "/payments", "payments:read", None),
        ("GET", "/payments/b-1", "payments:read", None),
        ("POST", "/payments/b-1/capture", "payments:charge", {}),
        ("POST", "/payments/b-1/void", "payments:charge", {}),
        ("POST", "/payments/b-1/refunds", "payments:charge", {}),
    ],
)
async def test_every_route_refuses_bad_tokens(money, method, path, scope, body):
    await assert_refuses_bad_tokens(
        money.payments, money.issuer, method, path, scope, "payments", json=body
    )


async def test_reading_needs_no_charge_scope_and_charging_needs_it(money):
    await _paid(money)
    reader = money.service("payments:read")
    assert (await money.payments.get("/payments/b-1", headers=reader)).status_code == 200
    denied = await money.payments.post("/payments/b-1/capture", json={}, headers=reader)
    assert denied.status_code == 403


async def test_both_services_describe_their_api(money):
    payments = (await money.payments.get("/openapi.json")).json()["paths"]
    assert {"/payments", "/payments/{booking_id}/capture", "/payments/{booking_id}/refunds"} <= set(
        payments
    )
    assert payments["/payments"]["post"]["security"] == [{"bearer": ["payments:charge"]}]
    bank = (await money.bank.get("/openapi.json")).json()["paths"]
    assert {"/tokens", "/authorizations/{authorization_id}/void", "/admin/faults"} <= set(bank)


async def test_a_void_after_a_lost_capture_learns_the_capture_from_the_bank(money):
    await _paid(money)
    await money.set_faults(timeout_rate=1.0)
    lost = await money.payments.post("/payments/b-1/capture", json={}, headers=money.service())
    assert lost.status_code == 503
    await money.set_faults()
    void = await money.payments.post("/payments/b-1/void", headers=money.service())
    assert void.status_code == 409 and _type(void) == "invalid-state"
    payment = (await money.payments.get("/payments/b-1", headers=money.service())).json()
    [bank] = await _bank_view(money, "b-1")
    assert (
        (payment["status"], payment["captured"])
        == ("captured", 25_000)
        == (
            bank["status"],
            bank["captured"],
        )
    )
    assert [t["bank_reference"] for t in payment["transitions"]] == [
        op["id"] for op in bank["operations"]
    ]
    again = await money.payments.post("/payments/b-1/capture", json={}, headers=money.service())
    assert again.json() == payment


async def test_a_capture_after_a_lost_void_learns_the_void_from_the_bank(money):
    await _paid(money)
    await money.set_faults(timeout_rate=1.0)
    assert (
        await money.payments.post("/payments/b-1/void", headers=money.service())
    ).status_code == 503
    await money.set_faults()
    capture = await money.payments.post("/payments/b-1/capture", json={}, headers=money.service())
    assert capture.status_code == 409
    payment = (await money.payments.get("/payments/b-1", headers=money.service())).json()
    assert payment["status"] == "voided"


@pytest.mark.parametrize("amount", ["25000", True, 25_000.0])
async def test_an_amount_that_is_not_a_json_integer_is_422_naming_it(money, amount):
    token = await tokenize(money.bank)
    response = await _pay(money, token, amount=amount)
    assert response.status_code == 422, response.text
    assert problem_field(response) == "amount"
    await _paid(money, booking="b-2")
    for path, body in (
        ("/payments/b-2/capture", {"amount": amount}),
        ("/payments/b-2/refunds", {"amount": amount, "refund_id": "r-1"}),
    ):
        response = await money.payments.post(path, json=body, headers=money.service())
        assert response.status_code == 422, (path, response.text)
        assert problem_field(response) == "amount"
