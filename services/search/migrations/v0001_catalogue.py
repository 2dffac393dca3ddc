"""Cities, hotels and room types."""

import sqlalchemy as sa
from alembic.operations import Operations


def upgrade(op: Operations) -> None:
    """Create the catalogue tables."""
    op.create_table(
        "cities",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("search_key", sa.String(200), nullable=False),
        sa.Column("country_code", sa.String(2), nullable=False),
        sa.Column("country", sa.String(100), nullable=False),
        sa.Column("latitude", sa.Float, nullable=False),
        sa.Column("longitude", sa.Float, nullable=False),
        sa.Column("population", sa.Integer, nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False),
    )
    op.create_index("ix_cities_search_key", "cities", ["search_key"])
    op.create_table(
        "hotels",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("city_id", sa.Integer, sa.ForeignKey("cities.id"), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("search_key", sa.String(200), nullable=False),
        sa.Column("stars", sa.Integer, nullable=False),
        sa.Column("address", sa.String(300), nullable=False),
        sa.Column("latitude", sa.Float, nullable=False),
        sa.Column("longitude", sa.Float, nullable=False),
        sa.Column("distance_km", sa.Float, nullable=False),
        sa.Column("amenities", sa.String(500), nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("min_rate", sa.Integer, nullable=False),
    )
    op.create_index("ix_hotels_city_id", "hotels", ["city_id"])
    op.create_table(
        "room_types",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("hotel_id", sa.Integer, sa.ForeignKey("hotels.id"), nullable=False),
        sa.Column("code", sa.String(40), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("capacity", sa.Integer, nullable=False),
        sa.Column("beds", sa.String(100), nullable=False),
        sa.Column("nightly_rate", sa.Integer, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.UniqueConstraint("hotel_id", "code"),
    )
    op.create_index("ix_room_types_hotel_id", "room_types", ["hotel_id"])
