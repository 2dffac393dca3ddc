"""The Search service's routes: cities, a city's hotels, one hotel."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse

from services.common.app import create_service_app, model_response
from services.common.openapi import Endpoint
from services.common.problems import Problem, ValidationProblem, not_found, parse_query
from services.common.settings import Settings, load_settings
from services.search import api, domain


async def list_cities(request: Request) -> JSONResponse:
    """GET /cities?prefix=: autocomplete."""
    query = parse_query(api.CityQuery, request)
    async with request.app.state.engine.connect() as conn:
        items = await domain.suggest_cities(conn, query.prefix, query.limit)
    return model_response(api.CityList(items=items))


async def list_hotels(request: Request) -> JSONResponse:
    """GET /hotels?city=: a page of a city's hotels."""
    query = parse_query(api.HotelQuery, request)
    async with request.app.state.engine.connect() as conn:
        if query.city_id is not None:
            city = await domain.get_city(conn, query.city_id)
            field, given = "city_id", query.city_id
        else:
            assert query.city is not None
            city = await domain.find_city(conn, query.city)
            field, given = "city", query.city
        if city is None:
            raise Problem(
                404, "unknown-city", "No such city.", f"We know no city {given!r}.", field=field
            )
        page = await domain.hotels_page(conn, city, query.page, query.page_size)
    return model_response(page)


async def show_hotel(request: Request) -> JSONResponse:
    """GET /hotels/{hotel_id}: one hotel with its room types."""
    raw = request.path_params["hotel_id"]
    if not raw.isdigit() or len(raw) > 12:
        raise ValidationProblem(
            [{"field": "hotel_id", "message": "must be a positive whole number"}], status=400
        )
    async with request.app.state.engine.connect() as conn:
        hotel = await domain.get_hotel(conn, int(raw))
    if hotel is None:
        raise not_found("hotel", raw)
    return model_response(hotel)


ENDPOINTS = (
    Endpoint(
        "GET",
        "/cities",
        list_cities,
        "Suggest cities by name prefix",
        query=api.CityQuery,
        response=api.CityList,
        errors=(400,),
    ),
    Endpoint(
        "GET",
        "/hotels",
        list_hotels,
        "List a city's hotels, a page at a time",
        query=api.HotelQuery,
        response=api.HotelPage,
        errors=(400, 404),
    ),
    Endpoint(
        "GET",
        "/hotels/{hotel_id}",
        show_hotel,
        "Show a hotel with its room types and nightly rates",
        response=api.Hotel,
        errors=(400, 404),
    ),
)


def create_app(settings: Settings | None = None) -> Starlette:
    """The Search ASGI app."""
    return create_service_app(
        "search",
        settings or load_settings(),
        ENDPOINTS,
        title="staysaga Search",
        migrations="services.search.migrations",
    )
