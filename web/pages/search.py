"""Finding a stay: the home page, city suggestions, results, a hotel's page."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from services.common.money import minor_unit_exponent
from services.common.text import search_key
from services.reservations.api import RoomTypeAvailability
from services.search.api import AMENITIES, City
from web import forms
from web.backends import BackendError, SearchResult
from web.pages.common import (
    backends_for,
    error_page,
    render,
    stay_query,
)

log = logging.getLogger("staysaga.web")

PAGE_SIZE = 10


async def home(request: Request) -> Response:
    """GET /: the search form."""
    return render(request, "home.html", _unsearched(forms.Form(values={"guests": 2})))


def city_label(city: City) -> str:
    """How a suggestion reads and what the city field then holds: "London, Canada"."""
    return f"{city.name}, {city.country}"


def _suggestion(city: City) -> dict[str, Any]:
    return {
        "id": city.id,
        "name": city.name,
        "country": city.country,
        "label": city_label(city),
        "known_as": city.known_as,
    }


async def city_suggestions(request: Request) -> Response:
    """GET /api/cities?prefix=: autocomplete for the search form's script.

    Each suggestion carries its city's id (the form sends it with the label, so London,
    Canada stays London, Canada); with no suggestion, `did_you_mean` has the nearest."""
    prefix = request.query_params.get("prefix", "").strip()[:100]
    if not prefix:
        return JSONResponse({"items": [], "did_you_mean": []})
    try:
        found = await backends_for(request).cities(prefix)
        items, nearest = found.items, found.did_you_mean
    except BackendError:
        items, nearest = [], []
    return JSONResponse(
        {
            "items": [_suggestion(c) for c in items],
            "did_you_mean": [_suggestion(c) for c in nearest],
        },
        headers={"Cache-Control": "public, max-age=300"},
    )


def _chose(city: City, written: str) -> bool:
    """Whether the city field still says the city an id was chosen for."""
    key = search_key(written)
    return key in {
        search_key(city.name),
        search_key(city_label(city)),
        search_key(f"{city.name}, {city.country_code}"),
    }


async def _search(request: Request, form: forms.Form) -> SearchResult:
    """Search's page for the form: the city by its chosen id while the field still names
    it, else by name; prices converted in the city's own currency once it is known."""
    backends = backends_for(request)
    v = form.values
    by_id = v["city_id"] is not None
    result = None
    if by_id:
        try:
            result = await backends.hotels(forms.search_query(form, PAGE_SIZE))
        except BackendError as exc:
            if exc.status != 404:
                raise
        # Typed over a chosen city (no script cleared the id), or an id gone: the name wins.
        by_id = result is not None and _chose(result.page.city, v["city"])
    if result is None or not by_id:
        result = await backends.hotels(forms.search_query(form, PAGE_SIZE, by_id=False))
    city = result.page.city
    priced = v["min_price"] is not None or v["max_price"] is not None
    if priced and minor_unit_exponent(city.currency) != minor_unit_exponent("EUR"):
        query = forms.search_query(form, PAGE_SIZE, city.currency)
        result = await backends.hotels(query.model_copy(update={"city_id": city.id}))
    # The form keeps the id only of the city shown, so its next submit asks once.
    v["city_id"] = city.id if by_id else None
    return result


def _choice_link(request: Request, city: City) -> str:
    """This search again, for another city chosen by its id."""
    replaced = ("city", "city_id", "page")
    kept = [(k, v) for k, v in request.query_params.multi_items() if k not in replaced]
    return "/search?" + urlencode([("city", city_label(city)), ("city_id", city.id), *kept])


def _unsearched(form: forms.Form) -> dict[str, Any]:
    """What the search form's pages show with no hotels found yet (the home page, or a
    search refused): the form, its errors, and the filters and sorts to choose from."""
    return {
        "form": form,
        "errors": form.errors,
        "page": None,
        "namesakes": [],
        "did_you_mean": [],
        "sorts": forms.SORTS,
        "amenities": AMENITIES,
    }


async def results(request: Request) -> Response:
    """GET /search: a page of hotels, with filters, sorting and pages."""
    form = forms.search_form(request.query_params)
    if not form.ok:
        template = "results.html" if form.values.get("city") else "home.html"
        return render(request, template, _unsearched(form), 400)
    try:
        result = await _search(request, form)
    except BackendError as exc:
        if exc.status == 404:
            form.errors["city"] = "We know no city by that name."
            suggestions = [City.model_validate(c) for c in exc.problem.get("suggestions") or []]
            choices = [
                {"label": city_label(c), "link": _choice_link(request, c)} for c in suggestions
            ]
            return render(request, "home.html", {**_unsearched(form), "did_you_mean": choices}, 404)
        if exc.status in (400, 422):
            # The traveller's own input, refused: say which and how to fix it, in words.
            for name in exc.fields or ["check_in"]:
                known = name if name in forms.FILTER_NAMES else "check_in"
                form.errors[known] = forms.STAY_REFUSALS.get(
                    known, f"Check the {forms.FILTER_NAMES[known]}."
                )
            return render(request, "results.html", _unsearched(form), 400)
        log.warning("search failed: %s", exc)
        return error_page(request, 503, "Search is unavailable", "Please try again shortly.")
    v = form.values
    nights = (v["check_out"] - v["check_in"]).days if v["check_in"] and v["check_out"] else None
    base = {k: val for k, val in request.query_params.multi_items() if k != "page"}
    page = result.page

    def page_link(number: int) -> str:
        return "/search?" + urlencode([*base.items(), ("page", number)])

    return render(
        request,
        "results.html",
        {
            "form": form,
            "page": page,
            "nights": nights,
            "ignored": list(dict.fromkeys(forms.FILTER_NAMES[n] for n in result.ignored)),
            "stay_query": stay_query(v),
            "prev_link": page_link(page.page - 1) if page.page > 1 else None,
            "next_link": page_link(page.page + 1) if page.has_next else None,
            "sorts": forms.SORTS,
            "amenities": AMENITIES,
            "namesakes": [
                {"label": city_label(c), "link": _choice_link(request, c)} for c in page.namesakes
            ],
        },
    )


async def hotel_page(request: Request) -> Response:
    """GET /hotels/{id}: details and room types, with availability when dates are given."""
    hotel_id = request.path_params["hotel_id"]
    form = forms.Form()
    forms.stay(form, request.query_params)
    try:
        hotel = await backends_for(request).hotel(hotel_id)
    except BackendError:
        return error_page(request, 503, "Search is unavailable", "Please try again shortly.")
    if hotel is None:
        return error_page(request, 404, "No such hotel")
    v = form.values
    dated = form.ok and v["check_in"] is not None and v["check_out"] is not None
    guests = v["guests"] or 1
    availability: dict[int, RoomTypeAvailability] | None = None
    availability_error = None
    free_until = None
    nights = (v["check_out"] - v["check_in"]).days if dated else None
    if dated:
        try:
            found = await backends_for(request).stay_availability(
                hotel_id, v["check_in"], v["check_out"], guests
            )
            availability = {room.room_type_id: room for room in found.room_types}
            # The hotel's policy for these dates, as a hold would carry it.
            free_until = found.terms.free_until(v["check_in"])
        except BackendError as exc:
            log.warning("availability failed: %s", exc)
            availability_error = "We cannot check availability right now; rates are shown."
    rooms = []
    for room in hotel.room_types:
        entry = (availability or {}).get(room.id)
        available = None
        if entry is not None:
            # Reservations says how many rooms are left for the whole stay.
            available = entry.rooms_left
        elif availability is not None:
            available = 0
        total = None
        if nights:
            total = (entry.total if entry is not None else 0) or room.nightly_rate * nights
        rooms.append(
            {
                **room.model_dump(),
                "available": available,
                "total": total,
                "fits": room.capacity >= guests,
                "book_query": urlencode(
                    {
                        "hotel_id": hotel_id,
                        "room_type_id": room.id,
                        "check_in": v["check_in"].isoformat() if dated else "",
                        "check_out": v["check_out"].isoformat() if dated else "",
                        "guests": guests,
                    }
                ),
            }
        )
    return render(
        request,
        "hotel.html",
        {
            "hotel": hotel,
            "rooms": rooms,
            "form": form,
            "errors": form.errors,
            "dated": dated,
            "nights": nights,
            "checked": availability is not None,
            "availability_error": availability_error,
            "free_until": free_until,
            "now": datetime.now(UTC),
        },
    )
