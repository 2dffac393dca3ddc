"""The Search service's public contract: its query parameters and responses."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

MAX_PAGE_SIZE = 100


class CityQuery(BaseModel):
    """GET /cities: autocomplete by name prefix (case and accents ignored)."""

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
    hotel_count: int = 0


class CityList(BaseModel):
    """Autocomplete suggestions, most populous first."""

    items: list[City]


class HotelQuery(BaseModel):
    """GET /hotels: the hotels of one city, a page at a time."""

    model_config = ConfigDict(extra="forbid")
    city: str | None = Field(None, min_length=1, max_length=100, description="city name")
    city_id: int | None = Field(None, ge=1, description="city id, from /cities")
    page: int = Field(1, ge=1, le=10_000, description="page number, from 1")
    page_size: int = Field(20, ge=1, le=MAX_PAGE_SIZE, description="hotels per page")

    @model_validator(mode="after")
    def _one_city(self) -> HotelQuery:
        if self.city is None and self.city_id is None:
            raise ValueError("give city or city_id")
        return self


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


class HotelPage(BaseModel):
    """One page of a city's hotels."""

    city: City
    items: list[HotelSummary]
    page: int
    page_size: int
    total: int
    has_next: bool


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
