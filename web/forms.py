"""Reading the website's forms: values back, and each error keyed by its field."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from starlette.datastructures import FormData, QueryParams

from services.common.fields import name_problem
from services.common.money import minor_unit_exponent
from services.common.parsers import ascii_digits, whole_number
from services.reservations.api import BOOKING_WINDOW_DAYS
from services.search.api import AMENITIES, HotelQuery

MAX_STAY_NIGHTS = 30
MAX_GUESTS = 10
SORTS = {
    "": "Recommended",
    "price": "Price (low to high)",
    "stars": "Stars (most first)",
    "distance": "Distance from centre",
}
# How the page names a Search parameter it could not apply.
FILTER_NAMES = {
    "check_in": "dates",
    "check_out": "dates",
    "guests": "guests",
    "stars": "stars",
    "min_price": "lowest price",
    "max_price": "highest price",
    "amenities": "amenities",
    "sort": "sorting",
    "q": "hotel name",
}
MAX_PRICE = 1_000_000_000
# The rest of the sentence refusing a name (services/common/fields.py: one rule for names).
INVISIBLE = "cannot contain line breaks or invisible formatting characters."
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


@dataclass
class Form:
    """Submitted values (as text, to show again) and errors by field name."""

    values: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """No field has an error."""
        return not self.errors


def _int(form: Form, name: str, raw: str, low: int, high: int) -> int | None:
    if raw == "":
        return None
    try:
        value = whole_number(raw)
    except ValueError:
        value = None
    if value is None or not low <= value <= high:
        form.errors[name] = f"Enter a whole number from {low} to {high}."
        return None
    return value


def _digits(raw: str, min_length: int, max_length: int) -> bool:
    try:
        ascii_digits(raw, min_length, max_length)
    except ValueError:
        return False
    return True


def _date(form: Form, name: str, raw: str) -> date | None:
    if raw == "":
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        form.errors[name] = "Enter a date as YYYY-MM-DD."
        return None


def stay(form: Form, source: QueryParams | FormData, today: date | None = None) -> None:
    """Check-in, check-out and guests: optional together, consistent when given."""
    today = today or datetime.now(UTC).date()
    check_in = _date(form, "check_in", str(source.get("check_in", "")).strip())
    check_out = _date(form, "check_out", str(source.get("check_out", "")).strip())
    guests = _int(form, "guests", str(source.get("guests", "") or "").strip(), 1, MAX_GUESTS)
    form.values.update(check_in=check_in, check_out=check_out, guests=guests)
    if check_in and check_in < today:
        form.errors.setdefault("check_in", "Check-in cannot be in the past.")
    last = latest_check_in(today)
    if check_in and check_in > last:
        form.errors.setdefault(
            "check_in",
            f"Rooms can be booked up to a year ahead: choose a check-in by {last:%-d %B %Y}.",
        )
    if check_in and not check_out and "check_out" not in form.errors:
        form.errors["check_out"] = "Choose a check-out date too."
    if check_out and not check_in and "check_in" not in form.errors:
        form.errors["check_in"] = "Choose a check-in date too."
    if check_in and check_out and "check_out" not in form.errors:
        nights = (check_out - check_in).days
        if nights < 1:
            form.errors["check_out"] = "Check-out must be after check-in."
        elif nights > MAX_STAY_NIGHTS:
            form.errors["check_out"] = f"A stay can last at most {MAX_STAY_NIGHTS} nights."


def latest_check_in(today: date) -> date:
    """The last check-in day hotels take bookings for (Reservations' booking window)."""
    return today + timedelta(days=BOOKING_WINDOW_DAYS)


def date_bounds(today: date | None = None) -> dict[str, str]:
    """The `min`/`max` of the stay's date inputs, as ISO dates."""
    today = today or datetime.now(UTC).date()
    last = latest_check_in(today)
    return {
        "check_in_min": today.isoformat(),
        "check_in_max": last.isoformat(),
        "check_out_min": (today + timedelta(days=1)).isoformat(),
        "check_out_max": (last + timedelta(days=MAX_STAY_NIGHTS)).isoformat(),
    }


# What a service's refusal of the traveller's own input means, in words, by field: never
# the service's raw "field: message", never "unavailable".
STAY_REFUSALS = {
    "check_in": "Choose a check-in date from today to a year ahead.",
    "check_out": f"Choose a check-out date after check-in, at most {MAX_STAY_NIGHTS} nights later.",
    "guests": f"Enter from 1 to {MAX_GUESTS} guests.",
}
CARD_REFUSALS = {
    "number": "This card number is not valid: check the digits.",
    "exp_month": "This card has expired: check the expiry date, or use another card.",
    "exp_year": "This card has expired: check the expiry date, or use another card.",
    "cvc": "Check the security code on the back of the card.",
    "holder": "Check the name on the card.",
}


def card_refusal(field: str | None) -> tuple[str, str]:
    """(form field, message in words) for the bank's refusal of a card's details."""
    if field in CARD_REFUSALS:
        return field, CARD_REFUSALS[field]
    return "number", "The bank refused this card: check its details, or use another card."


def search_form(query: QueryParams, today: date | None = None) -> Form:
    """The search form (home and results pages)."""
    form = Form()
    city = str(query.get("city", "")).strip()
    form.values["city"] = city
    if not city:
        form.errors["city"] = "Enter a city."
    elif len(city) > 100:
        form.errors["city"] = "That is too long for a city name."
    # The id of the city chosen from a suggestion (London, Canada rather than London, UK).
    city_id = str(query.get("city_id", "")).strip()
    form.values["city_id"] = None
    if city_id:
        try:
            form.values["city_id"] = whole_number(city_id)
        except ValueError:
            form.errors["city"] = "Choose the city again from the suggestions."
    stay(form, query, today)
    form.values["stars"] = _int(form, "stars", query.get("stars", "").strip(), 1, 5)
    # Whole units of the city's currency: up to a billion, for a night in dong or rupiah.
    for name in ("min_price", "max_price"):
        form.values[name] = _int(form, name, query.get(name, "").strip(), 0, MAX_PRICE)
    low, high = form.values["min_price"], form.values["max_price"]
    if low is not None and high is not None and low > high:
        form.errors["max_price"] = "The highest price must be at least the lowest."
    sort = query.get("sort", "")
    form.values["sort"] = sort if sort in SORTS else ""
    form.values["amenities"] = [a for a in query.getlist("amenities") if a in AMENITIES]
    form.values["q"] = query.get("q", "").strip()[:100]
    form.values["page"] = _int(form, "page", query.get("page", "").strip(), 1, 10_000) or 1
    return form


def search_query(
    form: Form, page_size: int = 10, currency: str = "EUR", *, by_id: bool = True
) -> HotelQuery:
    """The Search query for a valid search form.

    Prices go in minor units of `currency` (the city's, once known); the city by the id
    its suggestion carried, if any and `by_id`, else by name. Unvalidated here: Search
    judges it, and the filters it refuses are dropped."""
    v = form.values
    unit = 10 ** minor_unit_exponent(currency)
    return HotelQuery.model_construct(
        city=v["city"],
        city_id=v.get("city_id") if by_id else None,
        page=v["page"],
        page_size=page_size,
        check_in=v["check_in"] or None,
        check_out=v["check_out"] or None,
        guests=v["guests"],
        # The form asks for a minimum; Search takes the ratings to include.
        stars=list(range(v["stars"], 6)) if v["stars"] else None,
        min_price=v["min_price"] * unit if v["min_price"] is not None else None,
        max_price=v["max_price"] * unit if v["max_price"] is not None else None,
        amenities=list(v["amenities"]) or None,
        sort=v["sort"] or "distance",
        q=v["q"] or None,
    )


def signup_form(data: FormData) -> Form:
    """The sign-up form; the password is kept only to pass it on, never shown again."""
    form = Form()
    email = str(data.get("email", "")).strip()
    name = str(data.get("name", "")).strip()
    password = str(data.get("password", ""))
    form.values.update(email=email, name=name)
    if not _EMAIL.match(email) or len(email) > 254:
        form.errors["email"] = "Enter an e-mail address like name@example.com."
    if not name or len(name) > 200:
        form.errors["name"] = "Enter your name (at most 200 characters)."
    elif name_problem(name):
        form.errors["name"] = f"Your name {INVISIBLE}"
    problem = password_problem(password)
    if problem:
        form.errors["password"] = problem
    form.values["password"] = password
    return form


def password_problem(password: str) -> str | None:
    """Why Users would refuse this password (its length rule), or None."""
    if len(password) < 12 or len(password) > 128:
        return "Choose a password of 12 to 128 characters."  # noqa: S105
    return None


def card_form(data: FormData, today: date | None = None) -> Form:
    """The card form. Its values go to the bank and nowhere else."""
    today = today or datetime.now(UTC).date()
    form = Form()
    number = re.sub(r"[\s-]", "", str(data.get("number", "")))
    holder = str(data.get("holder", "")).strip()
    cvc = str(data.get("cvc", "")).strip()
    form.values.update(holder=holder)
    if not _digits(number, 12, 19):
        form.errors["number"] = "Enter the 12 to 19 digits of the card number."
    month = _int(form, "exp_month", str(data.get("exp_month", "")).strip(), 1, 12)
    year = _int(form, "exp_year", str(data.get("exp_year", "")).strip(), today.year, 2100)
    if "exp_month" not in form.errors and month is None:
        form.errors["exp_month"] = "Enter the expiry month."
    if "exp_year" not in form.errors and year is None:
        form.errors["exp_year"] = f"Enter the expiry year ({today.year} or later)."
    if month and year and (year, month) < (today.year, today.month):
        form.errors["exp_month"] = "This card has expired."
    if not _digits(cvc, 3, 4):
        form.errors["cvc"] = "Enter the 3 or 4 digits on the back."
    if not holder or len(holder) > 200:
        form.errors["holder"] = "Enter the name on the card."
    elif name_problem(holder):
        form.errors["holder"] = f"The name on the card {INVISIBLE}"
    form.values["card"] = {
        "number": number,
        "exp_month": month,
        "exp_year": year,
        "cvc": cvc,
        "holder": holder,
    }
    return form


def guest_name_form(data: FormData) -> Form:
    """The booking form's guest name."""
    form = Form()
    name = str(data.get("guest_name", "")).strip()
    form.values["guest_name"] = name
    if not name or len(name) > 200:
        form.errors["guest_name"] = "Enter the guest's name."
    elif name_problem(name):
        form.errors["guest_name"] = f"The guest's name {INVISIBLE}"
    return form
