"""Payments' routes: authorize, capture, void and refund a booking's payment; read them.

Mutations need `payments:charge`, reads `payments:read`; a traveller's token reaches only
that traveller's payments (anyone else's look like a 404). The reconciler's routes need
`payments:reconcile`, which only services get.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse

from components.settings import load_settings
from services.bank import client as bank_client
from services.bank.settings import BankSettings
from services.common.app import create_service_app, model_response
from services.common.auth import ensure_owner, principal
from services.common.http import transport_for
from services.common.openapi import Endpoint
from services.common.problems import Problem, ValidationProblem, parse_body, parse_query
from services.common.settings import Settings, SettingsError
from services.payments import api, authorization, domain, reconciliation, records
from services.payments.bank import BankClient
from services.payments.metrics import GAUGES

_BOOKING_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,100}$")


def _booking_id(request: Request) -> str:
    return str(request.path_params["booking_id"])


async def _owned_row(request: Request) -> Any:
    booking_id = _booking_id(request)
    row = await records.load(request.app.state.engine, booking_id)
    ensure_owner(principal(request), row.user_id, "payment", booking_id)
    return row


async def create_payment(request: Request) -> JSONResponse:
    """POST /payments: authorize a booking's amount on a card token (idempotent)."""
    body = await parse_body(api.PaymentRequest, request)
    who = principal(request)
    if not who.is_service and who.subject != body.user_id:
        raise Problem(403, "not-your-account", "You can pay only for yourself.", field="user_id")
    engine = request.app.state.engine
    async with engine.connect() as conn:
        existing = await records.find(conn, body.booking_id)
    if existing is not None:
        ensure_owner(who, existing.user_id, "payment", body.booking_id)
    payment = await authorization.authorize(engine, request.app.state.bank, body)
    return model_response(payment, 201)


async def capture_payment(request: Request) -> JSONResponse:
    """POST /payments/{booking_id}/capture: capture it (idempotent)."""
    body = await parse_body(api.CaptureRequest, request)
    row = await _owned_row(request)
    payment = await domain.capture(
        request.app.state.engine, request.app.state.bank, row, body.amount
    )
    return model_response(payment)


async def void_payment(request: Request) -> JSONResponse:
    """POST /payments/{booking_id}/void: void it (idempotent); with no payment yet, a
    service's void is recorded so that no later authorization stays open."""
    if await request.body():
        await parse_body(api.VoidRequest, request)
    booking_id = _booking_id(request)
    engine = request.app.state.engine
    if principal(request).is_service:
        async with engine.connect() as conn:
            unpaid = await records.find(conn, booking_id) is None
        if unpaid and await authorization.fence(engine, booking_id) == api.INTENT_VOIDED:
            await authorization.settle_unrecorded(engine, request.app.state.bank, booking_id)
            async with engine.connect() as conn:
                late = await records.find(conn, booking_id)
            payment = None if late is None else await records.show(engine, booking_id)
            return model_response(api.VoidResult(booking_id=booking_id, payment=payment))
    row = await _owned_row(request)
    payment = await domain.void(engine, request.app.state.bank, row)
    return model_response(api.VoidResult(booking_id=booking_id, payment=payment))


async def refund_payment(request: Request) -> JSONResponse:
    """POST /payments/{booking_id}/refunds: refund some of it (idempotent per refund_id)."""
    body = await parse_body(api.RefundRequest, request)
    row = await _owned_row(request)
    payment = await domain.refund(request.app.state.engine, request.app.state.bank, row, body)
    return model_response(payment, 201)


async def show_payment(request: Request) -> JSONResponse:
    """GET /payments/{booking_id}: the payment with its transitions and refunds."""
    row = await _owned_row(request)
    return model_response(await records.show(request.app.state.engine, row.booking_id))


async def list_payments(request: Request) -> JSONResponse:
    """GET /payments?user_id=: a traveller's payments, newest first."""
    query = parse_query(api.PaymentQuery, request)
    who = principal(request)
    user_id = query.user_id or (None if who.is_service else who.subject)
    if user_id is None:
        raise ValidationProblem(
            [{"field": "user_id", "message": "a service must say whose payments"}], status=400
        )
    ensure_owner(who, user_id, "user", user_id)
    items = await records.list_for_user(request.app.state.engine, user_id, query.limit)
    return model_response(api.PaymentList(items=items))


def _service_only(request: Request) -> None:
    if not principal(request).is_service:
        raise Problem(403, "services-only", "Only a service may reconcile payments.")


async def list_suspects(request: Request) -> JSONResponse:
    """GET /reconciliation/suspects: payments that may hold money nobody will capture."""
    _service_only(request)
    query = parse_query(api.SuspectQuery, request)
    if query.within <= query.older_than:
        raise ValidationProblem(
            [{"field": "within", "message": "must be greater than older_than"}], status=400
        )
    found = await reconciliation.suspects(request.app.state.engine, query, datetime.now(UTC))
    return model_response(api.PaymentSuspects(items=found))


async def repair_payment(request: Request) -> JSONResponse:
    """POST /reconciliation/{booking_id}/repair: void whatever the booking left authorized."""
    _service_only(request)
    if await request.body():
        await parse_body(api.RepairRequest, request)
    booking_id = _booking_id(request)
    if not _BOOKING_ID.match(booking_id):
        raise ValidationProblem(
            [{"field": "booking_id", "message": "not a valid booking id"}], status=400
        )
    engine, bank = request.app.state.engine, request.app.state.bank
    return model_response(await reconciliation.repair(engine, bank, booking_id))


_MONEY_ERRORS = (400, 402, 404, 409, 422, 502, 503)

ENDPOINTS = (
    Endpoint(
        "POST",
        api.PAYMENTS_PATH,
        create_payment,
        "Authorize a booking's payment on a card token (idempotent per booking)",
        body=api.PaymentRequest,
        response=api.Payment,
        status=201,
        errors=_MONEY_ERRORS,
        scope=api.CHARGE,
        tags=("payments",),
    ),
    Endpoint(
        "GET",
        api.PAYMENTS_PATH,
        list_payments,
        "List a traveller's payments, newest first",
        query=api.PaymentQuery,
        response=api.PaymentList,
        errors=(400, 404),
        scope=api.READ,
        tags=("payments",),
    ),
    Endpoint(
        "GET",
        api.PAYMENT_PATH,
        show_payment,
        "Show a booking's payment with its transitions and refunds",
        response=api.Payment,
        errors=(404,),
        scope=api.READ,
        tags=("payments",),
    ),
    Endpoint(
        "POST",
        api.CAPTURE_PATH,
        capture_payment,
        "Capture a booking's payment (idempotent)",
        body=api.CaptureRequest,
        response=api.Payment,
        errors=_MONEY_ERRORS,
        scope=api.CHARGE,
        tags=("payments",),
    ),
    Endpoint(
        "POST",
        api.VOID_PATH,
        void_payment,
        "Void a booking's uncaptured payment, or fence off a later one (idempotent)",
        body=api.VoidRequest,
        response=api.VoidResult,
        errors=_MONEY_ERRORS,
        scope=api.CHARGE,
        tags=("payments",),
    ),
    Endpoint(
        "POST",
        api.REFUNDS_PATH,
        refund_payment,
        "Refund part of a booking's payment (idempotent per refund_id)",
        body=api.RefundRequest,
        response=api.Payment,
        status=201,
        errors=_MONEY_ERRORS,
        scope=api.CHARGE,
        tags=("payments",),
    ),
    Endpoint(
        "GET",
        api.SUSPECTS_PATH,
        list_suspects,
        "List payments that may hold money nobody will capture, oldest first",
        query=api.SuspectQuery,
        response=api.PaymentSuspects,
        errors=(400,),
        scope=api.RECONCILE,
        tags=("reconciliation",),
    ),
    Endpoint(
        "POST",
        api.REPAIR_PATH,
        repair_payment,
        "Void what a booking that gave up left authorized, at the bank too (idempotent)",
        body=api.RepairRequest,
        response=api.RepairResult,
        errors=(400, 409, 422, 502, 503),
        scope=api.RECONCILE,
        tags=("reconciliation",),
    ),
)


def create_app(
    settings: Settings | None = None, bank_http: httpx.AsyncClient | None = None
) -> Starlette:
    """The Payments ASGI app; `bank_http` lets tests reach an in-process bank."""
    settings = settings or load_settings()
    secret = settings.of(BankSettings).secret_key
    if not secret:
        raise SettingsError("BANK_SECRET_KEY", "must be set: Payments calls the bank with it")

    async def open_bank(app: Starlette) -> None:
        transport = transport_for(settings, bank_http)
        app.state.bank = BankClient(bank_client.BankClient(settings.url("bank"), secret, transport))

    async def close_bank(app: Starlette) -> None:
        if bank_http is None:
            await app.state.bank.bank.aclose()

    return create_service_app(
        "payments",
        settings,
        ENDPOINTS,
        title="staysaga Payments",
        migrations="services.payments.migrations",
        gauges=GAUGES,
        on_startup=[open_bank],
        on_shutdown=[close_bank],
    )
