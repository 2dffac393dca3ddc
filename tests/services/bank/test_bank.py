import asyncio
import logging
import random
import time

import pytest
import sqlalchemy as sa

from services.bank.app import create_app
from services.bank.cards import luhn_valid
from services.bank.tables import authorizations
from services.common.settings import SettingsError
from tests.support.harness import problem_field, settings_for
from tests.support.money import (
    DECLINED,
    EXPIRED,
    INSUFFICIENT,
    PUBLISHABLE_KEY,
    SLOW,
    SLOW_CARD_MS,
    SUCCEEDS,
    card,
    key_headers,
    tokenize,
)

ARABIC_INDIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")


def _type(response):
    return response.json()["type"].rsplit("/", 1)[-1]


async def _authorize(bank, token, key="k-auth", amount=10_000, reference="booking-1"):
    body = {"token": token, "amount": amount, "currency": "EUR", "reference": reference}
    return await bank.post("/authorizations", json=body, headers=key_headers(idempotency_key=key))


async def _authorized(bank, amount=10_000):
    response = await _authorize(bank, await tokenize(bank), amount=amount)
    assert response.status_code == 201, response.text
    return response.json()["id"]


async def _post(bank, path, key, body=None):
    return await bank.post(path, json=body or {}, headers=key_headers(idempotency_key=key))


def test_test_cards_pass_the_luhn_check_and_a_typo_does_not():
    for number in (SUCCEEDS, DECLINED, INSUFFICIENT, EXPIRED, SLOW):
        assert luhn_valid(number)
    assert not luhn_valid("4242424242424241")


async def test_tokenizing_answers_brand_and_last4_never_the_number(money):
    response = await money.bank.post(
        "/tokens", json=card("4242 4242 4242 4242"), headers=key_headers(PUBLISHABLE_KEY)
    )
    assert response.status_code == 201
    body = response.json()
    assert body["token"].startswith("tok_")
    assert (body["brand"], body["last4"], body["exp_year"]) == ("visa", "4242", 2099)
    # Only these: the token's hex may hold any digits, so look at the fields, not the text.
    assert set(body) == {"token", "brand", "last4", "exp_month", "exp_year"}
    assert SUCCEEDS not in response.text


async def test_the_card_number_never_reaches_a_log(money, caplog):
    caplog.set_level(logging.DEBUG)
    token = await tokenize(money.bank, DECLINED)
    await _authorize(money.bank, token)
    await money.bank.post("/tokens", json=card("4242424242424241"), headers=key_headers())
    logged = "\n".join(r.getMessage() + str(r.__dict__) for r in caplog.records)
    assert caplog.records
    assert DECLINED not in logged and "4242424242424241" not in logged


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ({"number": "4242424242424241"}, "number"),
        ({"number": "4242-abcd"}, "number"),
        ({"exp_month": 13}, "exp_month"),
        ({"exp_year": 2001}, "exp_year"),
        ({"cvc": "12"}, "cvc"),
        # Digits of other scripts pass `str.isdigit()`: "²" broke the Luhn check (a 500).
        ({"number": "²" * 16}, "number"),
        ({"number": "4242424242424242".translate(ARABIC_INDIC)}, "number"),
        ({"cvc": "123".translate(ARABIC_INDIC)}, "cvc"),
        # A cardholder's name with a line break, a bidirectional override or a NUL.
        ({"holder": "Ada\r\nBcc: x"}, "holder"),
        ({"holder": "\u202eAda"}, "holder"),
        ({"holder": "Ada\x00"}, "holder"),
    ],
)
async def test_a_bad_card_is_422_naming_the_field(money, override, field):
    response = await money.bank.post("/tokens", json=card(**override), headers=key_headers())
    assert response.status_code == 422
    assert problem_field(response) == field
    assert "4242424242424241" not in response.text


async def test_every_route_refuses_a_missing_or_wrong_key(money):
    routes = [
        ("POST", "/tokens"),
        ("POST", "/authorizations"),
        ("GET", "/authorizations"),
        ("GET", "/authorizations/auth_x"),
        ("POST", "/authorizations/auth_x/captures"),
        ("POST", "/authorizations/auth_x/void"),
        ("POST", "/authorizations/auth_x/refunds"),
        ("GET", "/admin/faults"),
        ("PUT", "/admin/faults"),
    ]
    for method, path in routes:
        for headers in ({}, key_headers("sk_wrong"), {"Authorization": "Basic eDp5"}):
            response = await money.bank.request(method, path, json={}, headers=headers)
            assert response.status_code == 401, (method, path, headers, response.text)
            assert response.headers["www-authenticate"].startswith("Bearer")
        if path != "/tokens":
            response = await money.bank.request(
                method, path, json={}, headers=key_headers(PUBLISHABLE_KEY, "k")
            )
            assert response.status_code == 401, (method, path, "publishable key")
    assert (await money.bank.get("/healthz")).status_code == 200
    assert (await money.bank.get("/openapi.json")).status_code == 200


async def test_the_bank_refuses_to_start_without_its_keys(tmp_path):
    for missing in ("BANK_SECRET_KEY", "BANK_PUBLISHABLE_KEY"):
        env = {"BANK_SECRET_KEY": "a", "BANK_PUBLISHABLE_KEY": "b", missing: ""}
        with pytest.raises(SettingsError) as caught:
            create_app(settings_for(tmp_path, env))
        assert caught.value.variable == missing


async def test_the_succeeding_card_is_authorized(money):
    response = await _authorize(money.bank, await tokenize(money.bank))
    assert response.status_code == 201
    body = response.json()
    assert body["status"] == "authorized"
    assert (body["amount"], body["captured"], body["refunded"]) == (10_000, 0, 0)
    assert body["card"] == {"brand": "visa", "last4": "4242"}
    assert body["last_operation"]["kind"] == "authorize"
    assert [op["kind"] for op in body["operations"]] == ["authorize"]


@pytest.mark.parametrize(
    ("number", "kind"),
    [
        (DECLINED, "card-declined"),
        (INSUFFICIENT, "insufficient-funds"),
        (EXPIRED, "expired-card"),
    ],
)
async def test_declining_cards_are_402_with_a_distinct_type_and_move_nothing(money, number, kind):
    response = await _authorize(money.bank, await tokenize(money.bank, number))
    assert response.status_code == 402
    assert _type(response) == kind
    listed = await money.bank.get("/authorizations", headers=key_headers())
    assert listed.json()["items"] == []


async def test_the_slow_card_succeeds_after_its_delay(money):
    token = await tokenize(money.bank, SLOW)
    started = time.monotonic()
    response = await _authorize(money.bank, token)
    assert response.status_code == 201
    assert time.monotonic() - started >= SLOW_CARD_MS / 1000


async def test_unknown_token_is_422_naming_it(money):
    response = await _authorize(money.bank, "tok_nope")
    assert response.status_code == 422
    assert problem_field(response) == "token"


async def test_full_capture_then_partial_refunds_up_to_the_captured_amount(money):
    auth = await _authorized(money.bank)
    captured = await _post(money.bank, f"/authorizations/{auth}/captures", "c1")
    assert captured.status_code == 200
    assert (captured.json()["status"], captured.json()["captured"]) == ("captured", 10_000)
    first = await _post(money.bank, f"/authorizations/{auth}/refunds", "r1", {"amount": 4_000})
    assert first.status_code == 201
    assert (first.json()["status"], first.json()["refunded"]) == ("partially_refunded", 4_000)
    too_much = await _post(money.bank, f"/authorizations/{auth}/refunds", "r2", {"amount": 6_001})
    assert too_much.status_code == 422 and _type(too_much) == "amount-too-large"
    rest = await _post(money.bank, f"/authorizations/{auth}/refunds", "r3", {"amount": 6_000})
    assert (rest.json()["status"], rest.json()["refunded"]) == ("refunded", 10_000)
    more = await _post(money.bank, f"/authorizations/{auth}/refunds", "r4", {"amount": 1})
    assert more.status_code == 422
    kinds = [op["kind"] for op in rest.json()["operations"]]
    assert kinds == ["authorize", "capture", "refund", "refund"]


async def test_partial_capture_releases_the_rest_and_caps_refunds(money):
    auth = await _authorized(money.bank)
    captured = await _post(money.bank, f"/authorizations/{auth}/captures", "c", {"amount": 7_000})
    assert (captured.json()["captured"], captured.json()["amount"]) == (7_000, 10_000)
    again = await _post(money.bank, f"/authorizations/{auth}/captures", "c2", {"amount": 1})
    assert again.status_code == 409 and _type(again) == "invalid-state"
    over = await _post(money.bank, f"/authorizations/{auth}/refunds", "r", {"amount": 7_001})
    assert over.status_code == 422


async def test_capture_beyond_the_authorized_amount_is_422(money):
    auth = await _authorized(money.bank)
    response = await _post(money.bank, f"/authorizations/{auth}/captures", "c", {"amount": 10_001})
    assert response.status_code == 422 and problem_field(response) == "amount"


async def test_void_releases_and_then_nothing_else_moves(money):
    auth = await _authorized(money.bank)
    voided = await _post(money.bank, f"/authorizations/{auth}/void", "v")
    assert voided.status_code == 200 and voided.json()["status"] == "voided"
    capture = await _post(money.bank, f"/authorizations/{auth}/captures", "c")
    assert capture.status_code == 409 and _type(capture) == "invalid-state"
    refund = await _post(money.bank, f"/authorizations/{auth}/refunds", "r", {"amount": 1})
    assert refund.status_code == 409


async def test_void_after_capture_is_refused(money):
    auth = await _authorized(money.bank)
    await _post(money.bank, f"/authorizations/{auth}/captures", "c")
    response = await _post(money.bank, f"/authorizations/{auth}/void", "v")
    assert response.status_code == 409 and response.json()["status_now"] == "captured"


async def test_refund_before_capture_is_refused(money):
    auth = await _authorized(money.bank)
    response = await _post(money.bank, f"/authorizations/{auth}/refunds", "r", {"amount": 1})
    assert response.status_code == 409


async def test_unknown_authorization_is_404(money):
    response = await _post(money.bank, "/authorizations/auth_nope/captures", "c")
    assert response.status_code == 404
    shown = await money.bank.get("/authorizations/auth_nope", headers=key_headers())
    assert shown.status_code == 404


@pytest.mark.parametrize("path", ["/authorizations", "/captures", "/void", "/refunds"])
async def test_a_money_movement_without_an_idempotency_key_is_400(money, path):
    auth = await _authorized(money.bank)
    full = "/authorizations" if path == "/authorizations" else f"/authorizations/{auth}{path}"
    response = await money.bank.post(full, json={"amount": 1}, headers=key_headers())
    assert response.status_code == 400
    assert _type(response) == "idempotency-key-missing"
    assert problem_field(response) == "Idempotency-Key"


async def test_same_key_same_body_replays_the_first_answer_and_moves_money_once(money):
    token = await tokenize(money.bank)
    first = await _authorize(money.bank, token, key="same")
    again = await _authorize(money.bank, token, key="same")
    assert again.status_code == 201 and again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    listed = (await money.bank.get("/authorizations", headers=key_headers())).json()["items"]
    assert len(listed) == 1
    auth = first.json()["id"]
    for _ in range(3):
        captured = await _post(money.bank, f"/authorizations/{auth}/captures", "cap", {"amount": 5})
        assert captured.status_code == 200
    for _ in range(3):
        refunded = await _post(money.bank, f"/authorizations/{auth}/refunds", "ref", {"amount": 2})
        assert refunded.status_code == 201
    shown = (await money.bank.get(f"/authorizations/{auth}", headers=key_headers())).json()
    assert (shown["captured"], shown["refunded"]) == (5, 2)
    assert [op["kind"] for op in shown["operations"]] == ["authorize", "capture", "refund"]


async def test_same_key_different_body_is_422(money):
    token = await tokenize(money.bank)
    await _authorize(money.bank, token, key="k", amount=100)
    response = await _authorize(money.bank, token, key="k", amount=200)
    assert response.status_code == 422
    assert _type(response) == "idempotency-mismatch"


async def test_same_key_on_another_operation_is_422(money):
    auth = await _authorized(money.bank)
    await _post(money.bank, f"/authorizations/{auth}/captures", "shared")
    response = await _post(money.bank, f"/authorizations/{auth}/void", "shared")
    assert response.status_code == 422


async def test_same_key_still_in_flight_is_409(money):
    token = await tokenize(money.bank, SLOW)
    first, second = await asyncio.gather(
        _authorize(money.bank, token, key="slow"), _authorize(money.bank, token, key="slow")
    )
    statuses = sorted([first.status_code, second.status_code])
    assert statuses == [201, 409]
    loser = first if first.status_code == 409 else second
    assert _type(loser) == "idempotency-in-flight"
    assert loser.headers["retry-after"]
    after = await _authorize(money.bank, token, key="slow")
    assert after.status_code == 201


async def test_a_decline_is_stored_and_replayed(money):
    token = await tokenize(money.bank, DECLINED)
    first = await _authorize(money.bank, token, key="d")
    again = await _authorize(money.bank, token, key="d")
    assert first.status_code == again.status_code == 402
    assert again.json() == first.json()


async def test_an_injected_error_moves_nothing_and_a_retry_succeeds(money):
    token = await tokenize(money.bank)
    await money.set_faults(error_rate=1.0)
    failed = await _authorize(money.bank, token, key="e")
    assert failed.status_code == 503 and failed.headers["retry-after"]
    await money.set_faults(error_rate=0.0)
    assert (await money.bank.get("/authorizations", headers=key_headers())).json()["items"] == []
    assert (await _authorize(money.bank, token, key="e")).status_code == 201


async def test_a_lost_answer_took_effect_and_the_retry_gets_it(money):
    token = await tokenize(money.bank)
    await money.set_faults(timeout_rate=1.0)
    lost = await _authorize(money.bank, token, key="t")
    assert lost.status_code == 504
    await money.set_faults()
    retried = await _authorize(money.bank, token, key="t")
    assert retried.status_code == 201
    listed = (await money.bank.get("/authorizations", headers=key_headers())).json()["items"]
    assert [a["id"] for a in listed] == [retried.json()["id"]]


async def test_faults_are_shown_and_seeded_dice_repeat(money):
    await money.set_faults(error_rate=0.5, seed=7)
    shown = (await money.bank.get("/admin/faults", headers=key_headers())).json()
    assert shown["error_rate"] == 0.5
    outcomes = []
    for _ in range(2):
        await money.set_faults(error_rate=0.5, seed=7)
        runs = []
        for i in range(12):
            response = await money.bank.get(f"/authorizations/x{i}", headers=key_headers())
            runs.append(response.status_code)
        outcomes.append(runs)
    assert outcomes[0] == outcomes[1]
    assert set(outcomes[0]) == {404, 503}


async def test_faults_come_from_the_environment(tmp_path):
    env = {
        "BANK_SECRET_KEY": "a",
        "BANK_PUBLISHABLE_KEY": "b",
        "BANK_FAULT_LATENCY_MS": "5",
        "BANK_FAULT_ERROR_RATE": "0.25",
        "BANK_FAULT_TIMEOUT_RATE": "0.5",
    }
    app = create_app(settings_for(tmp_path, env), rng=random.Random(1))
    config = app.state.faults.config
    assert (config.latency_ms, config.error_rate, config.timeout_rate) == (5, 0.25, 0.5)


async def test_concurrent_refunds_never_exceed_the_capture(money):
    auth = await _authorized(money.bank, amount=100)
    await _post(money.bank, f"/authorizations/{auth}/captures", "c")
    answers = await asyncio.gather(
        *(
            _post(money.bank, f"/authorizations/{auth}/refunds", f"r{i}", {"amount": 30})
            for i in range(8)
        )
    )
    assert sorted(a.status_code for a in answers) == [201] * 3 + [422] * 5
    shown = (await money.bank.get(f"/authorizations/{auth}", headers=key_headers())).json()
    assert shown["refunded"] == 90


async def test_the_database_itself_refuses_to_break_the_ledger_invariant(money):
    auth = await _authorized(money.bank, amount=100)
    engine = money.bank_app.state.engine
    with pytest.raises(sa.exc.IntegrityError):
        async with engine.begin() as conn:
            await conn.execute(
                authorizations.update().where(authorizations.c.id == auth).values(captured=101)
            )
    with pytest.raises(sa.exc.IntegrityError):
        async with engine.begin() as conn:
            await conn.execute(
                authorizations.update().where(authorizations.c.id == auth).values(refunded=1)
            )


async def test_concurrent_duplicates_of_one_key_move_money_once(money):
    auth = await _authorized(money.bank)
    answers = await asyncio.gather(
        *(_post(money.bank, f"/authorizations/{auth}/void", "same-void") for _ in range(6))
    )
    assert {a.status_code for a in answers} <= {200, 409}
    assert 200 in {a.status_code for a in answers}
    shown = (await money.bank.get(f"/authorizations/{auth}", headers=key_headers())).json()
    assert [op["kind"] for op in shown["operations"]] == ["authorize", "void"]


@pytest.mark.parametrize("amount", ["10000", True, 10_000.0])
async def test_an_amount_that_is_not_a_json_integer_is_422_naming_it(money, amount):
    response = await _authorize(money.bank, await tokenize(money.bank), amount=amount)
    assert response.status_code == 422, response.text
    assert problem_field(response) == "amount"
    authorization = await _authorized(money.bank)
    for kind in ("captures", "refunds"):
        path = f"/authorizations/{authorization}/{kind}"
        response = await _post(money.bank, path, f"k-{kind}", {"amount": amount})
        assert response.status_code == 422, (path, response.text)
        assert problem_field(response) == "amount"


@pytest.mark.parametrize(
    "override", [{"error_rate": True}, {"timeout_rate": "1"}, {"latency_ms": "5"}]
)
async def test_fault_settings_that_are_not_json_numbers_are_422(money, override):
    response = await money.bank.put("/admin/faults", json=override, headers=key_headers())
    assert response.status_code == 422, response.text
    assert problem_field(response) == next(iter(override))


@pytest.mark.parametrize(("amount", "currency"), [(45_160, "JPY"), (7_740_000_000, "IDR")])
async def test_local_currency_amounts_move_exactly_in_minor_units(money, amount, currency):
    body = {
        "token": await tokenize(money.bank),
        "amount": amount,
        "currency": currency,
        "reference": f"booking-{currency}",
    }
    key = f"k-{currency}"
    created = await money.bank.post(
        "/authorizations", json=body, headers=key_headers(idempotency_key=key)
    )
    assert created.status_code == 201, created.text
    assert (created.json()["amount"], created.json()["currency"]) == (amount, currency)
    captured = await _post(money.bank, f"/authorizations/{created.json()['id']}/captures", "c-1")
    assert captured.status_code == 200, captured.text
    assert captured.json()["captured"] == amount
