"""The Search service's public contract: its query parameters and responses."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

# The amenity slugs hotels carry and searches filter on (the demo catalogue names them).
from services.common.catalogue import AMENITIES as AMENITIES
from services.common.fields import Id, Int64

# Paths, as route templates; `hotel_path` fills one in. Every route is public: no scope.
CITIES_PATH = "/cities"
HOTELS_PATH = "/hotels"
HOTEL_PATH = "/hotels/{hotel_id}"


def hotel_path(hotel_id: int) -> str:
    """The path of one hotel."""
    return HOTEL_PATH.format(hotel_id=int(hotel_id))


MAX_PAGE_SIZE = 100
# With dates, the candidates of one query (after the catalogue filters) are priced in one
# batched availability call; no seeded city has more than 40 hotels.
MAX_DATED_CANDIDATES = 200

SortOrder = Literal["distance", "price", "stars"]
Stars = Annotated[int, Field(ge=1, le=5)]
Amenity = Annotated[str, Field(pattern=r"^[a-z][a-z-]{0,39}$")]


class CityQuery(BaseModel):
    """GET /cities: autocomplete by the start of any of a city's names (case and accents
    ignored); when nothing starts so, the nearest names ("did you mean")."""

    model_config = ConfigDict(extra="forbid")
    prefix: str = Field(min_length=1, max_length=100, description="start of the city's name")
    limit: int = Field(10, ge=1, le=50, description="how many suggestions")


class City(BaseModel):
    """A city of the catalogue."""

    id: int
    name: str
    country_code: str
    country: str
    latitude: float
    longitude: float
    population: int
    timezone: str
    currency: str = Field(description="ISO 4217 code its hotels price in")
    hotel_count: int = 0
    known_as: str | None = Field(
        None, description="the other name that matched the query, e.g. 'Roma' for Rome"
    )


class CityList(BaseModel):
    """Autocomplete suggestions: own names first, then most populous first."""

    items: list[City]
    did_you_mean: list[City] = Field(
        default_factory=list,
        description="with no item: the cities whose names are nearest to the prefix",
    )


class HotelQuery(BaseModel):
    """GET /hotels: the hotels of one city, a page at a time.

    With check_in, check_out and guests (all three or none) only hotels with a room free
    for every night of the stay are listed, each with the price of the whole stay.
    """

    model_config = ConfigDict(extra="forbid")
    city: str | None = Field(
        None,
        min_length=1,
        max_length=100,
        description="a name of the city, any language ('Roma'); 'London, Canada' or "
        "'London, CA' picks by country",
    )
    city_id: Id | None = Field(None, description="city id, from /cities (wins over city)")
    check_in: dt.date | None = Field(None, description="first night (with check_out, guests)")
    check_out: dt.date | None = Field(None, description="day of departure")
    guests: int | None = Field(None, ge=1, le=20, description="people in one room")
    q: str | None = Field(None, min_length=1, max_length=100, description="part of the name")
    stars: list[Stars] | None = Field(None, description="only these star ratings (repeatable)")
    amenities: list[Amenity] | None = Field(
        None, description="only hotels having every one of these (repeatable)"
    )
    min_price: Int64 | None = Field(None, description="lowest nightly price, minor units")
    max_price: Int64 | None = Field(None, description="highest nightly price, minor units")
    sort: SortOrder = Field("distance", description="distance (from the centre), price, stars")
    page: int = Field(1, ge=1, le=10_000, description="page number, from 1")
    page_size: int = Field(20, ge=1, le=MAX_PAGE_SIZE, description="hotels per page")

    @property
    def dated(self) -> bool:
        """Whether the query asks about a stay (availability and prices)."""
        return self.check_in is not None

    @model_validator(mode="after")
    def _one_city(self) -> HotelQuery:
        if self.city is None and self.city_id is None:
            raise ValueError("give city or city_id")
        return self


class StayOffer(BaseModel):
    """The cheapest room of a hotel free for every night of the stay, and its price."""

    check_in: dt.date
    check_out: dt.date
    guests: int
    nights: int
    room_type_id: int
    rooms_left: int
    nightly_rate: int
    total: int = Field(description="price of the whole stay, minor units")
    currency: str


class HotelSummary(BaseModel):
    """A hotel in a list of results."""

    id: int
    name: str
    stars: int
    address: str
    city_id: int
    latitude: float
    longitude: float
    distance_km: float = Field(description="from the city centre")
    amenities: list[str]
    from_rate: int = Field(description="cheapest nightly rate, minor units")
    currency: str
    stay: StayOffer | None = Field(None, description="with dates: the offer for the stay")


class HotelPage(BaseModel):
    """One page of a city's hotels."""

    city: City
    items: list[HotelSummary]
    page: int
    page_size: int
    total: int
    has_next: bool
    namesakes: list[City] = Field(
        default_factory=list,
        description="other cities the name may mean (London, Canada): search by their id",
    )


class RoomType(BaseModel):
    """A kind of room a hotel sells, with its nightly rate in minor units."""

    id: int
    code: str
    name: str
    capacity: int
    beds: str
    nightly_rate: int
    currency: str


class Hotel(HotelSummary):
    """A hotel with its description and room types."""

    description: str
    city: City
    room_types: list[RoomType]
