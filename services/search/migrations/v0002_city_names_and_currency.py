"""Each city's currency, the other names cities are known by, and 64-bit rates."""

import sqlalchemy as sa
from alembic.operations import Operations


def upgrade(op: Operations) -> None:
    """Add cities.currency and the city_names table; widen the rate columns."""
    # A catalogue seeded before hotels priced locally was all in euros.
    op.add_column(
        "cities", sa.Column("currency", sa.String(3), nullable=False, server_default="EUR")
    )
    op.create_table(
        "city_names",
        sa.Column("city_id", sa.Integer, sa.ForeignKey("cities.id"), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("search_key", sa.String(200), nullable=False),
        sa.PrimaryKeyConstraint("city_id", "search_key"),
    )
    op.create_index("ix_city_names_search_key", "city_names", ["search_key"])
    if op.get_bind().dialect.name != "sqlite":
        op.alter_column("hotels", "min_rate", type_=sa.BigInteger, existing_nullable=False)
        op.alter_column("room_types", "nightly_rate", type_=sa.BigInteger, existing_nullable=False)
