"""The Search database's tables (the schema itself is made by `migrations/`)."""

import sqlalchemy as sa

metadata = sa.MetaData()

cities = sa.Table(
    "cities",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("search_key", sa.String(200), nullable=False),
    sa.Column("country_code", sa.String(2), nullable=False),
    sa.Column("country", sa.String(100), nullable=False),
    sa.Column("latitude", sa.Float, nullable=False),
    sa.Column("longitude", sa.Float, nullable=False),
    sa.Column("population", sa.Integer, nullable=False),
    sa.Column("timezone", sa.String(64), nullable=False),
    # ISO 4217: what the city's hotels price in.
    sa.Column("currency", sa.String(3), nullable=False),
)

# Other names of a city, any language ("Roma", "München"); the city's own name is not here.
city_names = sa.Table(
    "city_names",
    metadata,
    sa.Column("city_id", sa.Integer, sa.ForeignKey("cities.id"), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("search_key", sa.String(200), primary_key=True),
)

hotels = sa.Table(
    "hotels",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("city_id", sa.Integer, sa.ForeignKey("cities.id"), nullable=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("search_key", sa.String(200), nullable=False),
    sa.Column("stars", sa.Integer, nullable=False),
    sa.Column("address", sa.String(300), nullable=False),
    sa.Column("latitude", sa.Float, nullable=False),
    sa.Column("longitude", sa.Float, nullable=False),
    sa.Column("distance_km", sa.Float, nullable=False),
    # Comma-separated slugs from catalogue.AMENITIES, sorted.
    sa.Column("amenities", sa.String(500), nullable=False),
    sa.Column("description", sa.Text, nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    # The cheapest room type's nightly rate, kept here so a city page needs one query.
    sa.Column("min_rate", sa.BigInteger, nullable=False),
)

room_types = sa.Table(
    "room_types",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("hotel_id", sa.Integer, sa.ForeignKey("hotels.id"), nullable=False),
    sa.Column("code", sa.String(40), nullable=False),
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("capacity", sa.Integer, nullable=False),
    sa.Column("beds", sa.String(100), nullable=False),
    sa.Column("nightly_rate", sa.BigInteger, nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
)
