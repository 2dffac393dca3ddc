"""Reconciliation: what a booking that gave up left authorized at the bank is found and
voided, even when Payments never recorded the bank's answer."""

from datetime import UTC, datetime

import pytest

from services.payments.bank import idempotency_key
from services.payments.tables import intents
from tests.support.harness import problem_field
from tests.support.money import key_headers, tokenize

RECONCILER = "payments:charge payments:read payments:reconcile"
NOW = {"older_than": 0}


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


async def _suspects(money, **params):
    response = await money.payments.get(
        "/reconciliation/suspects", params=params, headers=money.service(RECONCILER)
    )
    assert response.status_code == 200, response.text
    return [(s["booking_id"], s["kind"], s["state"]) for s in response.json()["items"]]


async def _repair(money, booking="b-1"):
    return await money.payments.post(
        f"/reconciliation/{booking}/repair", headers=money.service(RECONCILER)
    )


def _crash_after_the_bank_answers(money, monkeypatch):
    """Payments stops right after the bank authorized, before it records anything."""
    bank = money.payments_app.state.bank
    real = bank.authorize

    async def authorize_then_crash(*args):
        await real(*args)
        raise RuntimeError("Payments stopped before recording the authorization")

    monkeypatch.setattr(bank, "authorize", authorize_then_crash)


async def test_an_authorization_payments_never_recorded_is_voided_and_recorded(money, monkeypatch):
    token = await tokenize(money.bank)
    _crash_after_the_bank_answers(money, monkeypatch)
    crashed = await _pay(money, token)
    assert crashed.status_code == 500
    monkeypatch.undo()
    # The booking's workflow is gone (terminated, say): nobody voids, and money stays held.
    [held] = await _bank_view(money)
    assert held["status"] == "authorized"

    assert await _suspects(money, **NOW) == [("b-1", "unrecorded", "requested")]
    repaired = await _repair(money)
    assert repaired.status_code == 200, repaired.text
    result = repaired.json()
    assert result["voided"] == [held["id"]]
    [bank] = await _bank_view(money)
    assert bank["status"] == "voided"
    payment = result["payment"]
    assert payment["status"] == "voided" and payment["user_id"] == "user-1"
    assert payment["bank_authorization_id"] == held["id"] and payment["amount"] == 25_000
    assert [t["bank_reference"] for t in payment["transitions"]] == [
        op["id"] for op in bank["operations"]
    ]
    assert await _suspects(money, **NOW) == []
    again = await _repair(money)
    assert again.status_code == 200 and again.json()["voided"] == []
    assert again.json()["payment"] == payment
    retried = await _pay(money, token)
    assert retried.json()["status"] == "voided"  # a retry of the payment learns its fate


async def test_a_requested_intent_is_fenced_and_its_bank_authorization_voided(money):
    token = await tokenize(money.bank)
    # As if Payments had asked the bank and crashed, from before intents kept their facts.
    answer = await money.bank.post(
        "/authorizations",
        json={"token": token, "amount": 9_900, "currency": "EUR", "reference": "b-2"},
        headers=key_headers(idempotency_key=idempotency_key("b-2", "authorize")),
    )
    assert answer.status_code == 201, answer.text
    now = datetime.now(UTC)
    async with money.payments_app.state.engine.begin() as conn:
        await conn.execute(
            intents.insert().values(
                booking_id="b-2", state="requested", created_at=now, updated_at=now
            )
        )
    assert await _suspects(money, **NOW) == [("b-2", "unrecorded", "requested")]

    repaired = await _repair(money, "b-2")
    assert repaired.status_code == 200, repaired.text
    voided = [answer.json()["id"]]
    assert repaired.json() == {"booking_id": "b-2", "voided": voided, "payment": None}
    [bank] = await _bank_view(money, "b-2")
    assert bank["status"] == "voided"
    void_key = idempotency_key("b-2", "void")
    replay = await money.bank.post(
        f"/authorizations/{bank['id']}/void", json={}, headers=key_headers(idempotency_key=void_key)
    )
    assert replay.headers.get("idempotent-replayed") == "true"  # voided under the void key
    late = await _pay(money, token, "b-2")
    assert late.status_code == 409 and _type(late) == "payment-voided"


async def test_an_uncaptured_payment_is_a_suspect_and_a_repair_voids_it(money):
    assert (await _pay(money, await tokenize(money.bank))).status_code == 201
    assert await _suspects(money) == []  # younger than the default grace
    assert await _suspects(money, **NOW) == [("b-1", "uncaptured", "authorized")]
    repaired = await _repair(money)
    assert repaired.status_code == 200, repaired.text
    assert repaired.json()["payment"]["status"] == "voided"
    [bank] = await _bank_view(money)
    assert bank["status"] == "voided"
    assert await _suspects(money, **NOW) == []


async def test_a_repair_never_undoes_a_captured_payment(money):
    assert (await _pay(money, await tokenize(money.bank))).status_code == 201
    captured = await money.payments.post("/payments/b-1/capture", json={}, headers=money.service())
    assert captured.status_code == 200, captured.text
    assert await _suspects(money, **NOW) == []
    refused = await _repair(money)
    assert refused.status_code == 409 and _type(refused) == "invalid-state"
    [bank] = await _bank_view(money)
    assert bank["status"] == "captured"


async def test_a_void_with_nothing_at_the_bank_is_listed_once(money):
    voided = await money.payments.post("/payments/b-3/void", headers=money.service())
    assert voided.status_code == 200
    assert await _suspects(money, **NOW) == [("b-3", "unrecorded", "voided")]
    repaired = await _repair(money, "b-3")
    assert repaired.json() == {"booking_id": "b-3", "voided": [], "payment": None}
    assert await _suspects(money, **NOW) == []


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"older_than": "-1"}, "older_than"),
        ({"older_than": "soon"}, "older_than"),
        ({"within": "0"}, "within"),
        ({"older_than": "600", "within": "600"}, "within"),
        ({"limit": "100000"}, "limit"),
        ({"booking": "b-1"}, "booking"),
    ],
)
async def test_bad_suspect_queries_name_the_parameter(money, params, field):
    response = await money.payments.get(
        "/reconciliation/suspects", params=params, headers=money.service(RECONCILER)
    )
    assert response.status_code == 400, response.text
    assert problem_field(response) == field


async def test_a_bad_repair_names_the_field(money):
    headers = money.service(RECONCILER)
    extra = await money.payments.post("/reconciliation/b-1/repair", json={"x": 1}, headers=headers)
    assert extra.status_code == 422 and problem_field(extra) == "x"
    bad_id = await money.payments.post("/reconciliation/b%20 1/repair", headers=headers)
    assert bad_id.status_code == 400 and problem_field(bad_id) == "booking_id"


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/reconciliation/suspects"), ("POST", "/reconciliation/b-1/repair")],
)
async def test_reconciling_needs_the_scope_and_a_service(money, method, path):
    charge_only = await money.payments.request(method, path, headers=money.service())
    assert charge_only.status_code == 403
    assert "insufficient_scope" in charge_only.headers["www-authenticate"]
    traveller = await money.payments.request(
        method, path, headers=money.user("user-1", "payments:reconcile")
    )
    assert traveller.status_code == 403 and _type(traveller) == "services-only"


async def test_the_sagas_void_settles_an_authorization_payments_never_recorded(money, monkeypatch):
    token = await tokenize(money.bank)
    _crash_after_the_bank_answers(money, monkeypatch)
    assert (await _pay(money, token)).status_code == 500
    monkeypatch.undo()
    voided = await money.payments.post("/payments/b-1/void", headers=money.service())
    assert voided.status_code == 200, voided.text
    assert voided.json()["payment"]["status"] == "voided"
    [bank] = await _bank_view(money)
    assert bank["status"] == "voided"
    assert await _suspects(money, **NOW) == []
