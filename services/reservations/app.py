"""The Reservations service's routes: holds, reservations, availability, inventory.

Expired holds give their rooms back by themselves: a sweeper task started with the app
expires live holds past their expiry every few seconds, and a new hold first expires the
lapsed holds of its room type, so a lapsed hold never makes a room look sold out to a
buyer. Expiring is idempotent (a conditional status change), so several copies of the
service may sweep at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse

from components.settings import load_settings
from services.common.app import create_service_app, json_response, model_response
from services.common.auth import ensure_owner, principal
from services.common.db import reads_inline
from services.common.openapi import Endpoint
from services.common.parsers import whole_number
from services.common.problems import (
    Problem,
    ValidationProblem,
    errors_from_validation,
    not_found,
    parse_body,
    parse_query,
)
from services.common.settings import Settings
from services.reservations import api, domain, queries
from services.reservations.settings import ReservationsSettings

log = logging.getLogger("staysaga.reservations")

MIN_SWEEP_SECONDS = 0.2
MAX_SWEEP_SECONDS = 5.0


def sweep_interval(ttl_seconds: int) -> float:
    """How often the sweeper looks for expired holds: a tenth of the TTL, 0.2 s to 5 s."""
    return max(MIN_SWEEP_SECONDS, min(MAX_SWEEP_SECONDS, ttl_seconds / 10))


def _ttl(request: Request) -> int:
    return int(request.app.state.settings.of(ReservationsSettings).hold_ttl_seconds)


def _path_id(request: Request, name: str) -> str:
    raw = str(request.path_params[name])
    if not 1 <= len(raw) <= 40:
        raise ValidationProblem([{"field": name, "message": "not a valid id"}], status=400)
    return raw


async def create_hold(request: Request) -> JSONResponse:
    """POST /holds: hold one room for the whole stay (201), or replay (200)."""
    body = await parse_body(api.HoldRequest, request)
    who = principal(request)
    if not who.is_service and who.subject != body.user_id:
        raise Problem(
            403, "forbidden-user", "You may hold rooms only for yourself.", field="user_id"
        )
    limit = request.app.state.settings.of(ReservationsSettings).max_unpaid_holds
    hold, created = await domain.create_hold(
        request.app.state.engine, body, _ttl(request), domain.utcnow(), limit
    )
    return model_response(hold, 201 if created else 200)


async def _owned_hold(request: Request) -> str:
    hold_id = _path_id(request, "hold_id")
    async with request.app.state.engine.connect() as conn:
        hold = await queries.get_hold(conn, hold_id)
    if hold is None:
        raise not_found("hold", hold_id)
    ensure_owner(principal(request), hold.user_id, "hold", hold_id)
    return hold_id


async def show_hold(request: Request) -> JSONResponse:
    """GET /holds/{hold_id}."""
    hold_id = await _owned_hold(request)
    async with request.app.state.engine.connect() as conn:
        hold = await queries.get_hold(conn, hold_id)
    assert hold is not None
    return model_response(hold)


async def release_hold(request: Request) -> JSONResponse:
    """POST /holds/{hold_id}/release: give the rooms back; idempotent. From the saga (a
    service), it also undoes a confirm that arrived after the saga gave up."""
    hold_id = await _owned_hold(request)
    engine = request.app.state.engine
    undo = principal(request).is_service
    return model_response(await domain.release_hold(engine, hold_id, undo_confirm=undo))


async def confirm_hold(request: Request) -> JSONResponse:
    """POST /holds/{hold_id}/confirm: the hold becomes a reservation; idempotent."""
    hold_id = await _owned_hold(request)
    reservation = await domain.confirm_hold(request.app.state.engine, hold_id, domain.utcnow())
    return model_response(reservation)


async def _owned_reservation(request: Request) -> api.Reservation:
    reservation_id = _path_id(request, "reservation_id")
    async with request.app.state.engine.connect() as conn:
        reservation = await queries.get_reservation(conn, reservation_id)
    if reservation is None:
        raise not_found("reservation", reservation_id)
    ensure_owner(principal(request), reservation.user_id, "reservation", reservation_id)
    return reservation


async def show_reservation(request: Request) -> JSONResponse:
    """GET /reservations/{reservation_id}."""
    return model_response(await _owned_reservation(request))


async def cancel_reservation(request: Request) -> JSONResponse:
    """POST /reservations/{reservation_id}/cancel: nights back to inventory; idempotent."""
    reservation = await _owned_reservation(request)
    cancelled = await domain.cancel_reservation(
        request.app.state.engine, reservation.reservation_id, domain.utcnow()
    )
    return model_response(cancelled)


async def list_reservations(request: Request) -> JSONResponse:
    """GET /reservations: a traveller's own; a service's choice (optionally one user's)."""
    query = parse_query(api.ReservationQuery, request)
    who = principal(request)
    user_id = query.user_id if who.is_service else who.subject
    async with request.app.state.engine.connect() as conn:
        items = await queries.list_reservations(conn, user_id, query.limit)
    return model_response(api.ReservationList(items=items))


async def show_availability(request: Request) -> JSONResponse:
    """GET /availability: one hotel's room types for a stay."""
    query = parse_query(api.AvailabilityQuery, request)
    domain.validate_stay(query, domain.utcnow(), status=400)
    (found,) = await queries.availability(request.app.state.engine, [query.hotel_id], query)
    # The terms a hold carries: every hotel's today (the catalogue keeps none of its own).
    return json_response({**found, "terms": api.HotelTerms().model_dump(mode="json")})


async def _batch(engine: AsyncEngine, body: api.BatchAvailabilityRequest) -> dict[str, Any]:
    """The fields of an `api.BatchAvailability`, built directly: this is Search's hot path."""
    items = await queries.availability(engine, body.hotel_ids, body, body.best_only)
    return {
        "check_in": body.check_in.isoformat(),
        "check_out": body.check_out.isoformat(),
        "guests": body.guests,
        "items": items,
    }


async def batch_availability(request: Request) -> JSONResponse:
    """POST /availability/batch: many hotels' room types for one stay, in one call."""
    body = await parse_body(api.BatchAvailabilityRequest, request)
    domain.validate_stay(body, domain.utcnow())
    return json_response(await _batch(request.app.state.engine, body))


class _Searches(BaseModel):
    """The body of /availability/searches as read: each search is validated on its own."""

    model_config = ConfigDict(extra="forbid")
    searches: list[dict[str, Any]] = Field(min_length=1, max_length=api.MAX_SEARCHES_PER_CALL)


async def _search_result(engine: AsyncEngine, raw: dict[str, Any], now: dt.datetime) -> Any:
    """One search's `api.SearchResult` fields: its availability, or its own problem."""
    try:
        search = api.BatchAvailabilityRequest.model_validate(raw)
        domain.validate_stay(search, now)
    except ValidationError as exc:
        return {"status": 422, "body": ValidationProblem(errors_from_validation(exc)).body()}
    except Problem as problem:
        return {"status": problem.status, "body": problem.body()}
    return {"status": 200, "body": await _batch(engine, search)}


async def search_availability(request: Request) -> JSONResponse:
    """POST /availability/searches: several searches' batch questions, one call."""
    body = await parse_body(_Searches, request)
    engine, now = request.app.state.engine, domain.utcnow()
    if reads_inline(engine):  # each read runs on the loop: nothing to overlap
        results = [await _search_result(engine, raw, now) for raw in body.searches]
    else:
        results = list(
            await asyncio.gather(*(_search_result(engine, raw, now) for raw in body.searches))
        )
    return json_response({"results": results})


async def update_inventory(request: Request) -> JSONResponse:
    """PUT /inventory/{room_type_id}: change total rooms, rate or currency."""
    try:
        room_type_id = whole_number(request.path_params["room_type_id"])
    except ValueError:
        raise ValidationProblem(
            [{"field": "room_type_id", "message": "must be a positive whole number"}], status=400
        ) from None
    body = await parse_body(api.InventoryUpdate, request)
    updated = await domain.update_inventory(request.app.state.engine, room_type_id, body)
    return model_response(updated)


async def list_suspects(request: Request) -> JSONResponse:
    """GET /reconciliation/suspects: rooms kept for bookings the reconciler should check."""
    if not principal(request).is_service:
        raise Problem(403, "services-only", "Only a service may reconcile reservations.")
    query = parse_query(api.SuspectQuery, request)
    if query.within <= query.older_than:
        raise ValidationProblem(
            [{"field": "within", "message": "must be greater than older_than"}], status=400
        )
    async with request.app.state.engine.connect() as conn:
        found = await queries.suspects(conn, query, domain.utcnow())
    return model_response(api.ReservationSuspects(items=found))


READ, WRITE, ADMIN, RECONCILE = api.READ, api.WRITE, api.ADMIN, api.RECONCILE

ENDPOINTS = (
    Endpoint("POST", api.HOLDS_PATH, create_hold, "Hold one room for every night of a stay",
             body=api.HoldRequest, response=api.Hold, status=201,
             errors=(400, 403, 404, 409, 422), scope=WRITE),
    Endpoint("GET", api.HOLD_PATH, show_hold, "Show a hold", response=api.Hold,
             errors=(400, 404), scope=READ),
    Endpoint("POST", api.RELEASE_PATH, release_hold,
             "Release a hold (idempotent)", response=api.Hold, errors=(400, 404), scope=WRITE),
    Endpoint("POST", api.CONFIRM_PATH, confirm_hold,
             "Confirm a hold into a reservation (idempotent)", response=api.Reservation,
             errors=(400, 404, 409), scope=WRITE),
    Endpoint("GET", api.RESERVATIONS_PATH, list_reservations, "List reservations, newest first",
             query=api.ReservationQuery, response=api.ReservationList, errors=(400,),
             scope=READ),
    Endpoint("GET", api.RESERVATION_PATH, show_reservation,
             "Show a reservation", response=api.Reservation, errors=(400, 404), scope=READ),
    Endpoint("POST", api.CANCEL_PATH, cancel_reservation,
             "Cancel a reservation (idempotent)", response=api.Reservation,
             errors=(400, 404), scope=WRITE),
    Endpoint("GET", api.AVAILABILITY_PATH, show_availability,
             "Rooms left and stay price per room type of one hotel",
             query=api.AvailabilityQuery, response=api.StayAvailability, errors=(400,),
             scope=READ),
    Endpoint("POST", api.BATCH_AVAILABILITY_PATH, batch_availability,
             "Rooms left and stay price per room type of many hotels",
             body=api.BatchAvailabilityRequest, response=api.BatchAvailability,
             errors=(400, 422), scope=READ),
    Endpoint("POST", api.AVAILABILITY_SEARCHES_PATH, search_availability,
             "Availability for several searches in one call, each answered on its own",
             body=api.AvailabilitySearches, response=api.AvailabilitySearchResults,
             errors=(400, 422), scope=READ),
    Endpoint("PUT", api.INVENTORY_PATH, update_inventory,
             "Change a room type's total rooms and rate", body=api.InventoryUpdate,
             response=api.Inventory, errors=(400, 404, 422), scope=ADMIN),
    Endpoint("GET", api.SUSPECTS_PATH, list_suspects,
             "Confirmed reservations and lapsed holds whose bookings need a check",
             query=api.SuspectQuery, response=api.ReservationSuspects, errors=(400, 403),
             scope=RECONCILE),
)  # fmt: skip


async def _sweep_forever(app: Starlette) -> None:
    interval = sweep_interval(app.state.settings.of(ReservationsSettings).hold_ttl_seconds)
    while True:
        try:
            expired = await domain.expire_due_holds(app.state.engine, domain.utcnow())
            if expired:
                log.info("expired holds", extra={"count": expired})
        except Exception:
            log.exception("sweeping expired holds failed; trying again")
        await asyncio.sleep(interval)


async def _start_sweeper(app: Starlette) -> None:
    app.state.sweeper = asyncio.create_task(_sweep_forever(app), name="hold-sweeper")


async def _stop_sweeper(app: Starlette) -> None:
    app.state.sweeper.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await app.state.sweeper


def create_app(settings: Settings | None = None) -> Starlette:
    """The Reservations ASGI app."""
    return create_service_app(
        "reservations",
        settings or load_settings(),
        ENDPOINTS,
        title="staysaga Reservations",
        migrations="services.reservations.migrations",
        on_startup=(_start_sweeper,),
        on_shutdown=(_stop_sweeper,),
    )
