"""The Reservations database's tables (the schema itself is made by `migrations/`).

Inventory is not materialised per night: `room_types` holds the total and the rate, and a
`nights` row (held, reserved counters) exists only for a night somebody has held; a night
without a row is fully available.
"""

import sqlalchemy as sa

metadata = sa.MetaData()

room_types = sa.Table(
    "room_types",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("hotel_id", sa.Integer, nullable=False),
    sa.Column("capacity", sa.Integer, nullable=False),
    sa.Column("total_rooms", sa.Integer, nullable=False),
    sa.Column("nightly_rate", sa.BigInteger, nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
)

nights = sa.Table(
    "nights",
    metadata,
    sa.Column("room_type_id", sa.Integer, sa.ForeignKey("room_types.id"), primary_key=True),
    sa.Column("night", sa.Date, primary_key=True),
    sa.Column("held", sa.Integer, nullable=False, server_default="0"),
    sa.Column("reserved", sa.Integer, nullable=False, server_default="0"),
)

holds = sa.Table(
    "holds",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("booking_id", sa.String(100), nullable=False, unique=True),
    sa.Column("user_id", sa.String(100), nullable=False),
    sa.Column("hotel_id", sa.Integer, nullable=False),
    sa.Column("room_type_id", sa.Integer, nullable=False),
    sa.Column("check_in", sa.Date, nullable=False),
    sa.Column("check_out", sa.Date, nullable=False),
    sa.Column("guests", sa.Integer, nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    # [{"night": "2026-12-01", "price": 12899}, ...] as priced when held.
    sa.Column("nights", sa.JSON, nullable=False),
    sa.Column("total", sa.BigInteger, nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)

reservations = sa.Table(
    "reservations",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("confirmation_code", sa.String(12), nullable=False, unique=True),
    sa.Column("hold_id", sa.String(40), sa.ForeignKey("holds.id"), nullable=False, unique=True),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
)
