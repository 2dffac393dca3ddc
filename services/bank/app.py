"""The simulated bank's routes: tokens, authorizations and their movements, fault switches.

The bank is a third party: it knows nothing of staysaga's OAuth server and authenticates
merchants by API key, like a real acquirer (`Authorization: Bearer <key>`).
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import random
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncConnection
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from components.settings import load_settings
from services.bank import api, domain, idempotency
from services.bank.cards import Behaviour
from services.bank.faults import Faults
from services.bank.settings import BankSettings
from services.common.app import create_service_app, model_response
from services.common.db import write_transaction
from services.common.openapi import Endpoint
from services.common.problems import (
    PROBLEM_CONTENT_TYPE,
    Problem,
    ValidationProblem,
    parse_body,
    parse_query,
)
from services.common.settings import Settings, SettingsError

log = logging.getLogger("staysaga.bank")

MAX_KEY_LENGTH = 255

Movement = Callable[[AsyncConnection, str, datetime], Awaitable[api.Authorization]]


def _require_key(request: Request, *, publishable: bool = False) -> None:
    """401 unless the request carries the secret key (or, where allowed, the publishable)."""
    settings: Settings = request.app.state.settings
    allowed = [settings.of(BankSettings).secret_key]
    if publishable:
        allowed.append(settings.of(BankSettings).publishable_key)
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    given = given.strip()
    if scheme.lower() == "bearer" and given:
        # Compare with every key, always, so timing tells nothing about which almost matched.
        matches = [hmac.compare_digest(given.encode(), key.encode()) for key in allowed if key]
        if any(matches):
            return
    raise Problem(
        401,
        "unauthorized",
        "A valid API key is required.",
        "Send Authorization: Bearer <your secret key>.",
        headers={"WWW-Authenticate": 'Bearer realm="bank"'},
    )


def _idempotency_key(request: Request) -> str:
    key = request.headers.get(api.IDEMPOTENCY_HEADER, "").strip()
    if not key:
        raise Problem(
            400,
            api.IDEMPOTENCY_KEY_MISSING,
            "An Idempotency-Key header is required.",
            "Every call that moves money needs a key unique to the operation.",
            field=api.IDEMPOTENCY_HEADER,
        )
    if len(key) > MAX_KEY_LENGTH:
        raise ValidationProblem(
            [{"field": api.IDEMPOTENCY_HEADER, "message": f"at most {MAX_KEY_LENGTH} characters"}],
            status=400,
        )
    return key


def _answer(status: int, body: dict[str, Any], replayed: bool = False) -> JSONResponse:
    headers = {api.REPLAYED_HEADER: "true"} if replayed else {}
    response = JSONResponse(body, status_code=status, headers=headers)
    if status >= 400:
        response.headers["content-type"] = PROBLEM_CONTENT_TYPE
    return response


async def _begin_movement(request: Request) -> str:
    """Checks before a money movement: the secret key, injected faults, the idempotency key."""
    _require_key(request)
    await request.app.state.faults.before_call()
    return _idempotency_key(request)


async def _move_money(
    request: Request,
    key: str,
    body: BaseModel,
    movement: Movement,
    status: int = 200,
    prepare: Callable[[], Awaitable[None]] | None = None,
) -> Response:
    """Run one money movement exactly once per Idempotency-Key, with injected faults."""
    faults: Faults = request.app.state.faults
    engine = request.app.state.engine
    digest = idempotency.fingerprint(request.method, request.url.path, body.model_dump(mode="json"))
    stored = await idempotency.claim(engine, key, digest)
    if stored is not None:
        return _answer(stored.status, stored.body, replayed=True)
    try:
        async with idempotency.holding(engine, key):
            if prepare is not None:
                await prepare()
            now = datetime.now(UTC)
            async with write_transaction(engine) as conn:
                result = await movement(conn, key, now)
                document = result.model_dump(mode="json")
                await idempotency.complete(conn, key, status, document)
    except Problem as problem:
        # A business answer (decline, wrong state): the same request always gets it again.
        async with write_transaction(engine) as conn:
            await idempotency.complete(conn, key, problem.status, problem.body(request.url.path))
        raise
    except BaseException:
        await asyncio.shield(idempotency.release(engine, key))
        raise
    if faults.lose_answer():
        log.info("injected fault: %s took effect, its answer is lost", request.url.path)
        await asyncio.sleep(request.app.state.settings.of(BankSettings).fault_hang_ms / 1000)
        raise Problem(
            504, api.BANK_TIMEOUT, "The bank did not answer in time.", headers={"Retry-After": "1"}
        )
    return _answer(status, document)


async def create_token(request: Request) -> JSONResponse:
    """POST /tokens: keep a card, answer with a token standing for it."""
    _require_key(request, publishable=True)
    await request.app.state.faults.before_call()
    card = await parse_body(api.TokenRequest, request)
    async with request.app.state.engine.begin() as conn:
        token = await domain.tokenize(conn, card, datetime.now(UTC))
    log.info("tokenized a %s card ending %s", token.brand, token.last4)
    return model_response(token, 201)


async def create_authorization(request: Request) -> Response:
    """POST /authorizations: reserve an amount on a card (Idempotency-Key required)."""
    key = await _begin_movement(request)
    body = await parse_body(api.AuthorizationRequest, request)

    async def think() -> None:
        # The slow card thinks outside any transaction: nothing is locked while it waits,
        # and a duplicate meanwhile finds its key in flight.
        async with request.app.state.engine.connect() as conn:
            kind = await domain.card_behaviour(conn, body.token)
        if kind is Behaviour.SLOW:
            await asyncio.sleep(request.app.state.settings.of(BankSettings).slow_card_ms / 1000)

    async def movement(conn: AsyncConnection, key: str, now: datetime) -> api.Authorization:
        kind = await domain.card_behaviour(conn, body.token)
        if kind in (Behaviour.DECLINE, Behaviour.INSUFFICIENT_FUNDS, Behaviour.EXPIRED):
            raise domain.decline(kind)
        return await domain.authorize(conn, body, key, now)

    return await _move_money(request, key, body, movement, status=201, prepare=think)


def _authorization_id(request: Request) -> str:
    return str(request.path_params["authorization_id"])


async def create_capture(request: Request) -> Response:
    """POST /authorizations/{id}/captures: capture all or part of it, once."""
    key = await _begin_movement(request)
    body = await parse_body(api.CaptureRequest, request)
    authorization_id = _authorization_id(request)

    async def movement(conn: AsyncConnection, key: str, now: datetime) -> api.Authorization:
        return await domain.capture(conn, authorization_id, body.amount, key, now)

    return await _move_money(request, key, body, movement)


async def void_authorization(request: Request) -> Response:
    """POST /authorizations/{id}/void: release it (only if nothing was captured)."""
    key = await _begin_movement(request)
    raw = await request.body()
    body = await parse_body(api.VoidRequest, request) if raw.strip() else api.VoidRequest()
    authorization_id = _authorization_id(request)

    async def movement(conn: AsyncConnection, key: str, now: datetime) -> api.Authorization:
        return await domain.void(conn, authorization_id, key, now)

    return await _move_money(request, key, body, movement)


async def create_refund(request: Request) -> Response:
    """POST /authorizations/{id}/refunds: give back some of what was captured."""
    key = await _begin_movement(request)
    body = await parse_body(api.RefundRequest, request)
    authorization_id = _authorization_id(request)

    async def movement(conn: AsyncConnection, key: str, now: datetime) -> api.Authorization:
        return await domain.refund(conn, authorization_id, body.amount, key, now)

    return await _move_money(request, key, body, movement, status=201)


async def show_authorization(request: Request) -> JSONResponse:
    """GET /authorizations/{id}: an authorization and its ledger."""
    _require_key(request)
    await request.app.state.faults.before_call()
    async with request.app.state.engine.connect() as conn:
        found = await domain.load(conn, _authorization_id(request))
    return model_response(found)


async def list_authorizations(request: Request) -> JSONResponse:
    """GET /authorizations?reference=: authorizations, newest first."""
    _require_key(request)
    query = parse_query(api.AuthorizationQuery, request)
    async with request.app.state.engine.connect() as conn:
        items = await domain.search(conn, query.reference, query.limit)
    return model_response(api.AuthorizationList(items=items))


async def show_faults(request: Request) -> JSONResponse:
    """GET /admin/faults: the faults in force."""
    _require_key(request)
    return model_response(api.FaultState(**request.app.state.faults.config.model_dump()))


async def set_faults(request: Request) -> JSONResponse:
    """PUT /admin/faults: switch faults on or off."""
    _require_key(request)
    config = await parse_body(api.FaultConfig, request)
    request.app.state.faults.update(config)
    log.warning("faults now %s", config.model_dump())
    return model_response(api.FaultState(**config.model_dump()))


_MONEY_ERRORS = (400, 401, 402, 404, 409, 422, 503, 504)

ENDPOINTS = (
    Endpoint(
        "POST",
        api.TOKENS_PATH,
        create_token,
        "Tokenize a card (publishable or secret key)",
        body=api.TokenRequest,
        response=api.CardToken,
        status=201,
        errors=(401, 422, 503),
        tags=("cards",),
    ),
    Endpoint(
        "POST",
        api.AUTHORIZATIONS_PATH,
        create_authorization,
        "Authorize an amount on a card token (Idempotency-Key required)",
        body=api.AuthorizationRequest,
        response=api.Authorization,
        status=201,
        errors=_MONEY_ERRORS,
        tags=("authorizations",),
    ),
    Endpoint(
        "GET",
        api.AUTHORIZATIONS_PATH,
        list_authorizations,
        "List authorizations, newest first",
        query=api.AuthorizationQuery,
        response=api.AuthorizationList,
        errors=(400, 401),
        tags=("authorizations",),
    ),
    Endpoint(
        "GET",
        api.AUTHORIZATION_PATH,
        show_authorization,
        "Show an authorization and its ledger",
        response=api.Authorization,
        errors=(401, 404, 503),
        tags=("authorizations",),
    ),
    Endpoint(
        "POST",
        api.CAPTURES_PATH,
        create_capture,
        "Capture all or part of an authorization (Idempotency-Key required)",
        body=api.CaptureRequest,
        response=api.Authorization,
        errors=_MONEY_ERRORS,
        tags=("authorizations",),
    ),
    Endpoint(
        "POST",
        api.VOID_PATH,
        void_authorization,
        "Void an uncaptured authorization (Idempotency-Key required)",
        body=api.VoidRequest,
        response=api.Authorization,
        errors=_MONEY_ERRORS,
        tags=("authorizations",),
    ),
    Endpoint(
        "POST",
        api.REFUNDS_PATH,
        create_refund,
        "Refund part or all of a capture (Idempotency-Key required)",
        body=api.RefundRequest,
        response=api.Authorization,
        status=201,
        errors=_MONEY_ERRORS,
        tags=("authorizations",),
    ),
    Endpoint(
        "GET",
        api.FAULTS_PATH,
        show_faults,
        "Show the injected faults (secret key)",
        response=api.FaultState,
        errors=(401,),
        tags=("admin",),
    ),
    Endpoint(
        "PUT",
        api.FAULTS_PATH,
        set_faults,
        "Set the injected faults (secret key)",
        body=api.FaultConfig,
        response=api.FaultState,
        errors=(401, 422),
        tags=("admin",),
    ),
)


def fault_config(settings: Settings) -> api.FaultConfig:
    """The faults the environment asks for at start."""
    return api.FaultConfig(
        latency_ms=settings.of(BankSettings).fault_latency_ms,
        error_rate=settings.of(BankSettings).fault_error_rate,
        timeout_rate=settings.of(BankSettings).fault_timeout_rate,
    )


def create_app(settings: Settings | None = None, rng: random.Random | None = None) -> Starlette:
    """The bank's ASGI app; `rng` makes injected faults repeatable in tests."""
    settings = settings or load_settings()
    keys = settings.of(BankSettings)
    for variable, key in (
        ("BANK_SECRET_KEY", keys.secret_key),
        ("BANK_PUBLISHABLE_KEY", keys.publishable_key),
    ):
        if not key:
            raise SettingsError(variable, "must be set: the bank authenticates merchants by key")
    app = create_service_app(
        "bank",
        settings,
        ENDPOINTS,
        title="Simulated bank",
        migrations="services.bank.migrations",
    )
    app.state.faults = Faults(fault_config(settings), rng)
    return app
