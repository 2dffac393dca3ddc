"""Rates and totals as 64-bit integers: in minor units of currencies such as the Indonesian
rupiah or the Lebanese pound, a long stay's total passes 2^31."""

import sqlalchemy as sa
from alembic.operations import Operations


def upgrade(op: Operations) -> None:
    """Widen the money columns (SQLite's INTEGER is already 64-bit)."""
    if op.get_bind().dialect.name == "sqlite":
        return
    op.alter_column("room_types", "nightly_rate", type_=sa.BigInteger, existing_nullable=False)
    op.alter_column("holds", "total", type_=sa.BigInteger, existing_nullable=False)
