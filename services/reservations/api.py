"""The Reservations service's public contract: paths, scopes, requests, responses and
problem types. `services/reservations/client.py` is the one client that calls these paths.

Problem `type` slugs this service answers with: `validation-error` (422/400, names the
field), `not-found` (404, names the field for hotel_id / room_type_id),
`idempotency-mismatch` (422: a booking_id reused with another request), `sold-out` (409),
`hold-expired` (409), `hold-released` (409), `too-many-holds` (409: the traveller already
keeps as many unpaid holds as allowed; names `user_id` and the `limit`), `forbidden-user`
(403: a traveller acting for someone else).
"""

from __future__ import annotations

import datetime as dt
from typing import Literal
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict, Field

from services.common.fields import INT64_MAX, Id, MinorUnits
from services.reservations.scopes import *  # noqa: F403 - its scopes are part of the contract

# Problem types callers branch on (all 409). A hold's status of the same word
# (`HOLD_EXPIRED`, "expired") is a state, not a refusal.
SOLD_OUT = "sold-out"
"""Problem type: no room of the type is left for one of the nights."""
EXPIRED_HOLD = "hold-expired"
"""Problem type: the hold expired before it was confirmed."""
RELEASED_HOLD = "hold-released"
"""Problem type: the hold was released before it was confirmed."""
TOO_MANY_HOLDS = "too-many-holds"
"""Problem type: the traveller already keeps as many unpaid holds as allowed."""

# Paths, as route templates; the functions below fill them in.
HOLDS_PATH = "/holds"
HOLD_PATH = "/holds/{hold_id}"
RELEASE_PATH = "/holds/{hold_id}/release"
CONFIRM_PATH = "/holds/{hold_id}/confirm"
RESERVATIONS_PATH = "/reservations"
RESERVATION_PATH = "/reservations/{reservation_id}"
CANCEL_PATH = "/reservations/{reservation_id}/cancel"
AVAILABILITY_PATH = "/availability"
BATCH_AVAILABILITY_PATH = "/availability/batch"
AVAILABILITY_SEARCHES_PATH = "/availability/searches"
INVENTORY_PATH = "/inventory/{room_type_id}"
SUSPECTS_PATH = "/reconciliation/suspects"


def hold_path(hold_id: str) -> str:
    """The path of a hold."""
    return HOLD_PATH.format(hold_id=quote(hold_id, safe=""))


def release_path(hold_id: str) -> str:
    """The path that releases a hold."""
    return RELEASE_PATH.format(hold_id=quote(hold_id, safe=""))


def confirm_path(hold_id: str) -> str:
    """The path that confirms a hold into a reservation."""
    return CONFIRM_PATH.format(hold_id=quote(hold_id, safe=""))


def reservation_path(reservation_id: str) -> str:
    """The path of a reservation."""
    return RESERVATION_PATH.format(reservation_id=quote(reservation_id, safe=""))


def cancel_path(reservation_id: str) -> str:
    """The path that cancels a reservation."""
    return CANCEL_PATH.format(reservation_id=quote(reservation_id, safe=""))


def inventory_path(room_type_id: int) -> str:
    """The path of a room type's inventory."""
    return INVENTORY_PATH.format(room_type_id=int(room_type_id))


MAX_STAY_NIGHTS = 30
BOOKING_WINDOW_DAYS = 365
MAX_BATCH_HOTELS = 200
MAX_SEARCHES_PER_CALL = 64

HoldStatus = Literal["held", "released", "expired", "confirmed"]
ReservationStatus = Literal["confirmed", "cancelled"]

HOLD_HELD: HoldStatus = "held"
HOLD_RELEASED: HoldStatus = "released"
HOLD_EXPIRED: HoldStatus = "expired"
HOLD_CONFIRMED: HoldStatus = "confirmed"
RESERVATION_CONFIRMED: ReservationStatus = "confirmed"
RESERVATION_CANCELLED: ReservationStatus = "cancelled"


def stay_problem(check_in: dt.date, check_out: dt.date, now: dt.datetime) -> tuple[str, str] | None:
    """(field, message) saying what is wrong with a stay's dates, or None if bookable.

    "The past" is judged in the earliest time zone on Earth (UTC-12), so a traveller
    whose today is still yesterday in UTC can book tonight.
    """
    earliest = (now - dt.timedelta(hours=12)).date()
    if check_in < earliest:
        return "check_in", "must not be in the past"
    if check_in > now.date() + dt.timedelta(days=BOOKING_WINDOW_DAYS):
        return "check_in", f"must be within {BOOKING_WINDOW_DAYS} days"
    if check_out <= check_in:
        return "check_out", "must be after check_in"
    if (check_out - check_in).days > MAX_STAY_NIGHTS:
        return "check_out", f"a stay is at most {MAX_STAY_NIGHTS} nights"
    return None


class Stay(BaseModel):
    """Dates and party of a stay: nights from check_in up to (not including) check_out."""

    model_config = ConfigDict(extra="forbid")
    check_in: dt.date
    check_out: dt.date
    guests: int = Field(ge=1, le=20)


class HoldRequest(Stay):
    """POST /holds: one room of a room type for every night of the stay, or nothing."""

    booking_id: str = Field(min_length=1, max_length=100, description="idempotency key")
    user_id: str = Field(min_length=1, max_length=100, description="the traveller")
    hotel_id: Id
    room_type_id: Id


class NightPrice(BaseModel):
    """The price of one night, minor units."""

    night: dt.date
    price: int


class HotelTerms(BaseModel):
    """The hotel's terms a stay is booked under: the free-cancellation window, the tax
    included in its rates, and the times of day (UTC) a stay begins and ends.

    The defaults are every hotel's terms today: the catalogue keeps none of its own.
    """

    free_cancellation_hours: int = Field(
        48,
        ge=0,
        description="cancelling this long before check-in is free; later, the first night is kept",
    )
    tax_rate_percent: int = Field(10, ge=0, description="the VAT included in the rates")
    check_in_time: dt.time = Field(dt.time(14, 0), description="UTC")
    check_out_time: dt.time = Field(dt.time(11, 0), description="UTC")

    def check_in_at(self, day: dt.date) -> dt.datetime:
        """When a stay that begins on `day` begins."""
        return dt.datetime.combine(day, self.check_in_time, tzinfo=dt.UTC)

    def check_out_at(self, day: dt.date) -> dt.datetime:
        """When a stay that ends on `day` ends."""
        return dt.datetime.combine(day, self.check_out_time, tzinfo=dt.UTC)

    def free_until(self, check_in: dt.date) -> dt.datetime:
        """Until when a stay that begins on `check_in` may be cancelled for free."""
        return self.check_in_at(check_in) - dt.timedelta(hours=self.free_cancellation_hours)

    def tax_in(self, total: int) -> int:
        """The part of `total` (tax included) that is tax, rounded down."""
        return total * self.tax_rate_percent // (100 + self.tax_rate_percent)


class HoldSummary(BaseModel):
    """What a hold costs, until when, and under which terms: what a booking keeps of it."""

    hold_id: str
    expires_at: dt.datetime
    nights: list[NightPrice]
    total: int
    currency: str
    terms: HotelTerms = Field(default_factory=HotelTerms)


class Hold(HoldSummary):
    """A room held for a stay until `expires_at`, then given back unless confirmed."""

    booking_id: str
    user_id: str
    hotel_id: int
    room_type_id: int
    check_in: dt.date
    check_out: dt.date
    guests: int
    status: HoldStatus
    created_at: dt.datetime


class Reservation(BaseModel):
    """A confirmed stay (or a cancelled one), with its human-friendly confirmation code."""

    reservation_id: str
    confirmation_code: str
    hold_id: str
    booking_id: str
    user_id: str
    hotel_id: int
    room_type_id: int
    check_in: dt.date
    check_out: dt.date
    guests: int
    nights: list[NightPrice]
    total: int
    currency: str
    status: ReservationStatus
    created_at: dt.datetime
    cancelled_at: dt.datetime | None = None


class ReservationList(BaseModel):
    """The caller's reservations, newest first."""

    items: list[Reservation]


class ReservationQuery(BaseModel):
    """GET /reservations: a service may filter by user; a traveller sees only their own."""

    model_config = ConfigDict(extra="forbid")
    user_id: str | None = Field(None, max_length=100)
    limit: int = Field(50, ge=1, le=200)


class AvailabilityQuery(Stay):
    """GET /availability: one hotel's room types for a stay."""

    hotel_id: Id


class BatchAvailabilityRequest(Stay):
    """POST /availability/batch: many hotels, one stay, one call."""

    hotel_ids: list[Id] = Field(min_length=1, max_length=MAX_BATCH_HOTELS)
    best_only: bool = Field(
        False,
        description="only each hotel's cheapest room type with a room left (what a search lists)",
    )


class RoomTypeAvailability(BaseModel):
    """How many rooms of a type are free for every night of the stay, and its price."""

    room_type_id: int
    capacity: int
    rooms_left: int
    nightly_rate: int
    total: int
    currency: str


class HotelAvailability(BaseModel):
    """The room types of a hotel that fit the party, cheapest first (sold out included)."""

    hotel_id: int
    nights: int
    room_types: list[RoomTypeAvailability]


class StayAvailability(HotelAvailability):
    """GET /availability: one hotel's room types for a stay, and the terms (cancellation
    policy, tax, times) a hold of it would be booked under, to show before booking."""

    terms: HotelTerms = Field(default_factory=HotelTerms)


class BatchAvailability(BaseModel):
    """Availability per hotel, in the order asked (unknown hotels have no room types)."""

    check_in: dt.date
    check_out: dt.date
    guests: int
    items: list[HotelAvailability]


class AvailabilitySearches(BaseModel):
    """POST /availability/searches: the batch questions of several searches, in one call.

    Search sends the questions of the searches that arrive while its previous call is
    still out, so a busy Search makes one call for many travellers' pages.
    """

    model_config = ConfigDict(extra="forbid")
    searches: list[BatchAvailabilityRequest] = Field(min_length=1, max_length=MAX_SEARCHES_PER_CALL)


class SearchResult(BaseModel):
    """One search's answer: status 200 and a `BatchAvailability`, or a 4xx status and its
    problem document (one bad search does not fail the others)."""

    status: int
    body: BatchAvailability | dict[str, object]


class AvailabilitySearchResults(BaseModel):
    """One result per search, in the order asked."""

    results: list[SearchResult]


class InventoryUpdate(BaseModel):
    """PUT /inventory/{room_type_id}: change how many rooms exist and what a night costs."""

    model_config = ConfigDict(extra="forbid")
    total_rooms: int | None = Field(None, ge=0, le=10_000)
    nightly_rate: MinorUnits | None = Field(None, ge=0, le=INT64_MAX)
    currency: str | None = Field(None, pattern=r"^[A-Z]{3}$")


class Inventory(BaseModel):
    """A room type's inventory settings."""

    room_type_id: int
    hotel_id: int
    capacity: int
    total_rooms: int
    nightly_rate: int
    currency: str


# Reconciliation: rooms a booking that gave up may still keep.
SUSPECT_CONFIRMED = "confirmed"
"""A confirmed reservation: its booking may have failed after the confirm."""
SUSPECT_LAPSED = "lapsed"
"""A hold still `held` past its expiry: the sweeper has not given its rooms back."""
MAX_RECONCILE_SECONDS = 30 * 24 * 3600


class SuspectQuery(BaseModel):
    """GET /reconciliation/suspects: reservations and holds to check against their bookings."""

    model_config = ConfigDict(extra="forbid")
    older_than: int = Field(
        600,
        ge=0,
        le=MAX_RECONCILE_SECONDS,
        description="seconds since the reservation was made (or the hold expired), at least",
    )
    within: int = Field(
        86_400,
        ge=1,
        le=MAX_RECONCILE_SECONDS,
        description="seconds since it was made, at most (must exceed older_than)",
    )
    limit: int = Field(200, ge=1, le=1000)


class ReservationSuspect(BaseModel):
    """Rooms kept for a booking, to be given back if the booking gave up."""

    booking_id: str
    kind: Literal["confirmed", "lapsed"]
    hold_id: str = Field(description="release it (as a service) to give the rooms back")
    reservation_id: str | None = None
    since: dt.datetime = Field(description="when it was confirmed, or when the hold expired")


class ReservationSuspects(BaseModel):
    """Suspects, oldest first."""

    items: list[ReservationSuspect]
