"""The payments activities against the real Payments and bank apps (in process)."""

from __future__ import annotations

import httpx
import pytest
from temporalio.exceptions import ApplicationError

from activities import models as act
from activities.payments import PaymentActivities
from activities.reconcile import PaymentReconcileActivities
from services.common.http import ServiceConnections
from tests.support.harness import activity_environment, settings_for
from tests.support.money import (
    DECLINED,
    INSUFFICIENT,
    SUCCEEDS,
    money_env,
    running_money,
    tokenize,
)
from tests.support.tokens import token_source


@pytest.fixture
async def world(tmp_path):
    env = money_env(*(f"sqlite+aiosqlite:///{tmp_path}/{n}.db" for n in ("bank", "payments")))
    async with running_money(tmp_path, env) as money:
        http = httpx.AsyncClient(transport=httpx.ASGITransport(app=money.payments_app))
        clients = ServiceConnections(
            settings_for(tmp_path), tokens=token_source(money.issuer, "worker-payments"), http=http
        )
        yield PaymentActivities(clients), money
        await http.aclose()


def _authorize(booking_id: str, token: str) -> act.AuthorizeInput:
    return act.AuthorizeInput(
        booking_id=booking_id, user_id="user-1", amount=25_000, currency="EUR", card_token=token
    )


async def test_authorize_capture_refund_each_happen_once(world):
    activities, money = world
    env = activity_environment()
    token = await tokenize(money.bank)
    first = await env.run(activities.authorize_payment, _authorize("b1", token))
    again = await env.run(activities.authorize_payment, _authorize("b1", token))
    assert first.payment_id == again.payment_id and first.status == "authorized"
    ref = act.PaymentRef(booking_id="b1")
    captured = await env.run(activities.capture_payment, ref)
    assert (await env.run(activities.capture_payment, ref)).captured == captured.captured == 25_000
    refund = act.RefundInput(booking_id="b1", amount=10_000, refund_id="cancel")
    await env.run(activities.refund_payment, refund)
    refunded = await env.run(activities.refund_payment, refund)
    assert refunded.refunded == 10_000 and refunded.status == "partially_refunded"


@pytest.mark.parametrize("number", [DECLINED, INSUFFICIENT])
async def test_a_decline_is_a_non_retryable_payment_declined(world, number):
    activities, money = world
    env = activity_environment()
    token = await tokenize(money.bank, number)
    with pytest.raises(ApplicationError) as caught:
        await env.run(activities.authorize_payment, _authorize("b1", token))
    assert caught.value.type == act.PAYMENT_DECLINED and caught.value.non_retryable
    # Nothing was authorised: the void is recorded, with no payment to show.
    voided = await env.run(activities.void_payment, act.PaymentRef(booking_id="b1"))
    assert (voided.status, voided.payment_id) == ("voided", "")


async def test_an_authorization_after_the_void_is_a_non_retryable_refusal(world):
    activities, money = world
    env = activity_environment()
    await env.run(activities.void_payment, act.PaymentRef(booking_id="b1"))
    with pytest.raises(ApplicationError) as caught:
        await env.run(activities.authorize_payment, _authorize("b1", await tokenize(money.bank)))
    assert caught.value.non_retryable


async def test_void_after_authorize_is_idempotent(world):
    activities, money = world
    env = activity_environment()
    await env.run(activities.authorize_payment, _authorize("b1", await tokenize(money.bank)))
    ref = act.PaymentRef(booking_id="b1")
    assert (await env.run(activities.void_payment, ref)).status == "voided"
    assert (await env.run(activities.void_payment, ref)).status == "voided"


async def test_a_bank_outage_is_retryable(world):
    activities, money = world
    env = activity_environment()
    token = await tokenize(money.bank)
    await money.set_faults(error_rate=1.0)
    with pytest.raises(Exception) as caught:
        await env.run(activities.authorize_payment, _authorize("b1", token))
    assert not isinstance(caught.value, ApplicationError)
    await money.set_faults(error_rate=0.0)
    assert (await env.run(activities.authorize_payment, _authorize("b1", token))).amount == 25_000


async def test_the_reconciler_lists_an_uncaptured_payment_and_voids_it(world, tmp_path):
    activities, money = world
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=money.payments_app))
    reconcile = PaymentReconcileActivities(
        ServiceConnections(
            settings_for(tmp_path), tokens=token_source(money.issuer, "worker-payments"), http=http
        )
    )
    env = activity_environment()
    await env.run(activities.authorize_payment, _authorize("b1", await tokenize(money.bank)))
    query = act.SuspectQuery(older_than_seconds=0, within_seconds=3600)
    found = await env.run(reconcile.list_payment_suspects, query)
    assert found.items == [act.Suspect(booking_id="b1", kind=act.UNCAPTURED_PAYMENT)]
    repaired = await env.run(reconcile.repair_payment, found.items[0])
    assert (repaired.booking_id, repaired.changed) == ("b1", True)
    assert (await env.run(reconcile.repair_payment, found.items[0])).changed is False
    assert (await env.run(reconcile.list_payment_suspects, query)).items == []
    await http.aclose()


async def test_a_token_another_booking_used_is_a_non_retryable_payment_declined(world):
    activities, money = world
    env = activity_environment()
    token = await tokenize(money.bank)
    await env.run(activities.authorize_payment, _authorize("b1", token))
    with pytest.raises(ApplicationError) as caught:
        await env.run(activities.authorize_payment, _authorize("b2", token))
    assert caught.value.type == act.PAYMENT_DECLINED and caught.value.non_retryable
    assert "already used" in caught.value.message


async def test_the_authorization_tells_the_saga_the_cards_brand_and_last_four_only(world):
    activities, money = world
    token = await tokenize(money.bank)
    paid = await activity_environment().run(activities.authorize_payment, _authorize("b1", token))
    assert (paid.card_brand, paid.card_last4) == ("visa", SUCCEEDS[-4:])
    assert SUCCEEDS not in paid.model_dump_json()
