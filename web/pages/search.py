"""Finding a stay: the home page, city suggestions, results, a hotel's page."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from services.reservations.api import RoomTypeAvailability
from services.search.api import AMENITIES
from web import forms
from web.backends import BackendError
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
    return render(request, "home.html", {"form": forms.Form(values={"guests": 2})})


async def city_suggestions(request: Request) -> Response:
    """GET /api/cities?prefix=: autocomplete for the search form's script."""
    prefix = request.query_params.get("prefix", "").strip()[:100]
    if not prefix:
        return JSONResponse({"items": []})
    try:
        items = await backends_for(request).cities(prefix)
    except BackendError:
        items = []
    return JSONResponse(
        {"items": [{"name": c.name, "country": c.country} for c in items]},
        headers={"Cache-Control": "public, max-age=300"},
    )


async def results(request: Request) -> Response:
    """GET /search: a page of hotels, with filters, sorting and pages."""
    form = forms.search_form(request.query_params)
    if not form.ok:
        template = "results.html" if form.values.get("city") else "home.html"
        return render(request, template, {"form": form, "errors": form.errors}, 400)
    try:
        result = await backends_for(request).hotels(forms.search_query(form, PAGE_SIZE))
    except BackendError as exc:
        if exc.status == 404:
            form.errors["city"] = "We know no city by that name."
            return render(request, "home.html", {"form": form, "errors": form.errors}, 404)
        if exc.status in (400, 422):
            # The traveller's own input, refused: say which and how to fix it, in words.
            for name in exc.fields or ["check_in"]:
                known = name if name in forms.FILTER_NAMES else "check_in"
                form.errors[known] = forms.STAY_REFUSALS.get(
                    known, f"Check the {forms.FILTER_NAMES[known]}."
                )
            return render(request, "results.html", {"form": form, "errors": form.errors}, 400)
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
