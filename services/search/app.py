"""The Search service's routes: cities, a city's hotels, one hotel."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse

from components.settings import load_settings
from services.common.app import create_service_app, json_response, model_response
from services.common.http import ServiceConnections, ServiceError, TransportError
from services.common.openapi import Endpoint
from services.common.parsers import whole_number
from services.common.problems import Problem, ValidationProblem, not_found, parse_query
from services.common.settings import Settings
from services.common.text import search_key
from services.reservations import api as reservations_api
from services.reservations.client import ReservationsClient
from services.search import api, domain
from services.search.availability import AvailabilityBatcher
from services.search.cache import TtlCache

log = logging.getLogger("staysaga.search")

STAY_FIELDS = ("check_in", "check_out", "guests")


# How long the "did you mean" index of city names is kept before it is read again (a
# reseeded catalogue is seen within this time).
NAME_INDEX_SECONDS = 600.0


async def _name_index(request: Request) -> domain.NameIndex:
    """Every city name, read from the database at most once per NAME_INDEX_SECONDS."""
    state = request.app.state
    now = time.monotonic()
    loaded = getattr(state, "name_index", None)
    if loaded is None or now - loaded[0] > NAME_INDEX_SECONDS:
        async with state.name_index_lock:
            loaded = getattr(state, "name_index", None)
            if loaded is None or now - loaded[0] > NAME_INDEX_SECONDS:
                loaded = (now, await domain.NameIndex.load(state.engine))
                state.name_index = loaded
    index: domain.NameIndex = loaded[1]
    return index


async def _did_you_mean(request: Request, text: str, limit: int = 5) -> list[api.City]:
    engine = request.app.state.engine
    return await domain.did_you_mean(engine, await _name_index(request), text, limit)


async def list_cities(request: Request) -> JSONResponse:
    """GET /cities?prefix=: autocomplete, or the nearest names when nothing matches."""
    query = parse_query(api.CityQuery, request)
    items = await domain.suggest_cities(request.app.state.engine, query.prefix, query.limit)
    nearest = [] if items else await _did_you_mean(request, query.prefix, query.limit)
    return model_response(api.CityList(items=items, did_you_mean=nearest))


async def _resolve_city(
    request: Request, query: api.HotelQuery
) -> tuple[tuple[object, ...], api.City, list[api.City]]:
    """(cache key, the city, its namesakes) for the query's city_id or city name; 404
    naming the field, with the nearest names as `suggestions`, for a city nobody has."""
    cache: TtlCache = request.app.state.catalogue_cache
    engine = request.app.state.engine
    if query.city_id is not None:
        city_key: tuple[object, ...] = ("city_id", query.city_id)
    else:
        assert query.city is not None
        city_key = ("city", search_key(query.city))
    cached = cache.get(city_key)
    if cached is not None:
        return city_key, cached[0], cached[1]
    if query.city_id is not None:
        city = await domain.get_city(engine, query.city_id)
        if city is None:
            raise Problem(
                404,
                "unknown-city",
                "No such city.",
                f"We know no city with id {query.city_id}.",
                field="city_id",
            )
        namesakes = await domain.namesakes(engine, city)
    else:
        assert query.city is not None
        found = await domain.find_cities(engine, query.city)
        if not found:
            suggestions = await _did_you_mean(request, query.city)
            raise Problem(
                404,
                "unknown-city",
                "No such city.",
                f"We know no city {query.city!r}.",
                field="city",
                suggestions=[c.model_dump(mode="json") for c in suggestions],
            )
        city, namesakes = found[0], found[1:]
        if len(found) == 1:
            namesakes = await domain.namesakes(engine, city)
    cache.put(city_key, (city, namesakes))
    return city_key, city, namesakes


def _check_stay(query: api.HotelQuery) -> None:
    given = [name for name in STAY_FIELDS if getattr(query, name) is not None]
    if given and len(given) < len(STAY_FIELDS):
        missing = next(name for name in STAY_FIELDS if name not in given)
        raise ValidationProblem(
            [{"field": missing, "message": "check_in, check_out and guests go together"}],
            status=400,
        )
    if query.check_in is not None and query.check_out is not None:
        problem = reservations_api.stay_problem(
            query.check_in, query.check_out, dt.datetime.now(dt.UTC)
        )
        if problem:
            raise ValidationProblem([{"field": problem[0], "message": problem[1]}], status=400)


def _unavailable(detail: str) -> Problem:
    return Problem(
        503,
        "availability-unavailable",
        "Availability cannot be checked right now.",
        detail,
        headers={"Retry-After": "5"},
    )


async def _offers(
    request: Request, query: api.HotelQuery, hotel_ids: list[int]
) -> dict[int, dict[str, Any]]:
    """The cheapest free room of each hotel for the stay (`api.StayOffer` fields): one
    batched question to Reservations, in a call it may share with other searches."""
    if not hotel_ids:
        return {}
    assert query.check_in and query.check_out and query.guests
    batcher: AvailabilityBatcher = request.app.state.availability
    try:
        result = await batcher.ask(
            {
                "hotel_ids": hotel_ids,
                "check_in": query.check_in.isoformat(),
                "check_out": query.check_out.isoformat(),
                "guests": query.guests,
                "best_only": True,
            }
        )
    except ServiceError as exc:
        log.warning("availability call failed: %s", exc)
        raise _unavailable(f"Reservations answered {exc.status}.") from exc
    except (TransportError, RuntimeError) as exc:
        log.warning("availability call failed: %s", exc)
        raise _unavailable("Reservations cannot be reached.") from exc
    if result["status"] != 200:
        problem = result["body"]
        field = problem.get("field")
        if result["status"] in (400, 422) and field in STAY_FIELDS:
            raise ValidationProblem(
                [{"field": field, "message": str(problem.get("detail", "invalid"))}],
                status=400,
            )
        log.warning("availability refused a search: %s", problem)
        raise _unavailable(f"Reservations answered {result['status']}.")
    answer = result["body"]  # api.BatchAvailability, with best_only: a room type or none
    offers = {}
    for hotel in answer["items"]:
        if not hotel["room_types"]:
            continue
        best = hotel["room_types"][0]
        offers[hotel["hotel_id"]] = {
            "check_in": answer["check_in"],
            "check_out": answer["check_out"],
            "guests": answer["guests"],
            "nights": hotel["nights"],
            "room_type_id": best["room_type_id"],
            "rooms_left": best["rooms_left"],
            "nightly_rate": best["nightly_rate"],
            "total": best["total"],
            "currency": best["currency"],
        }
    return offers


async def list_hotels(request: Request) -> JSONResponse:
    """GET /hotels?city=: a page of a city's hotels; with dates, only those with a room."""
    query = parse_query(api.HotelQuery, request)
    _check_stay(query)
    cache: TtlCache = request.app.state.catalogue_cache
    engine = request.app.state.engine
    city_key, city, namesakes = await _resolve_city(request, query)
    candidates_key = (
        city_key,
        tuple(sorted(set(query.stars or ()))),
        tuple(sorted(set(query.amenities or ()))),
        search_key(query.q) if query.q else None,
    )
    if not query.dated:
        return model_response(await domain.hotels_page(engine, city, query, namesakes))
    candidates = cache.get(candidates_key)
    if candidates is None:
        candidates = await domain.dated_candidates(engine, city, query)
        cache.put(candidates_key, candidates)
    offers = await _offers(request, query, [h["id"] for h in candidates])
    return json_response(domain.dated_page(city, query, candidates, offers, namesakes))


async def show_hotel(request: Request) -> JSONResponse:
    """GET /hotels/{hotel_id}: one hotel with its room types."""
    raw = request.path_params["hotel_id"]
    try:
        hotel_id = whole_number(raw)
    except ValueError:
        raise ValidationProblem(
            [{"field": "hotel_id", "message": "must be a positive whole number"}], status=400
        ) from None
    hotel = await domain.get_hotel(request.app.state.engine, hotel_id)
    if hotel is None:
        raise not_found("hotel", raw)
    return model_response(hotel)


ENDPOINTS = (
    Endpoint(
        "GET",
        api.CITIES_PATH,
        list_cities,
        "Suggest cities by name prefix",
        query=api.CityQuery,
        response=api.CityList,
        errors=(400,),
    ),
    Endpoint(
        "GET",
        api.HOTELS_PATH,
        list_hotels,
        "List a city's hotels, a page at a time; with dates, those free for the stay",
        query=api.HotelQuery,
        response=api.HotelPage,
        errors=(400, 404, 503),
    ),
    Endpoint(
        "GET",
        api.HOTEL_PATH,
        show_hotel,
        "Show a hotel with its room types and nightly rates",
        response=api.Hotel,
        errors=(400, 404),
    ),
)


def create_app(
    settings: Settings | None = None, connections: ServiceConnections | None = None
) -> Starlette:
    """The Search ASGI app; `connections` (for tests) reaches Reservations, else one is made."""
    settings = settings or load_settings()

    async def open_clients(app: Starlette) -> None:
        app.state.connections = connections or ServiceConnections(settings)
        app.state.catalogue_cache = TtlCache()
        app.state.name_index_lock = asyncio.Lock()
        reservations = ReservationsClient(app.state.connections["reservations"])
        # Plain JSON fields both ways on this hot path (see search_availability_fields).
        app.state.availability = AvailabilityBatcher(reservations.search_availability_fields)

    async def close_clients(app: Starlette) -> None:
        await app.state.availability.aclose()
        if connections is None:
            await app.state.connections.aclose()

    return create_service_app(
        "search",
        settings,
        ENDPOINTS,
        title="staysaga Search",
        migrations="services.search.migrations",
        on_startup=(open_clients,),
        on_shutdown=(close_clients,),
    )
