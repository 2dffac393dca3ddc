"""Room types with their totals and rates, lazy per-night counters, holds, reservations."""

import sqlalchemy as sa
from alembic.operations import Operations


def upgrade(op: Operations) -> None:
    """Create the inventory, hold and reservation tables."""
    op.create_table(
        "room_types",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("hotel_id", sa.Integer, nullable=False),
        sa.Column("capacity", sa.Integer, nullable=False),
        sa.Column("total_rooms", sa.Integer, nullable=False),
        sa.Column("nightly_rate", sa.Integer, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.CheckConstraint("total_rooms >= 0", name="ck_room_types_total"),
    )
    op.create_index("ix_room_types_hotel_id", "room_types", ["hotel_id", "capacity"])
    op.create_table(
        "nights",
        sa.Column("room_type_id", sa.Integer, sa.ForeignKey("room_types.id"), primary_key=True),
        sa.Column("night", sa.Date, primary_key=True),
        sa.Column("held", sa.Integer, nullable=False, server_default="0"),
        sa.Column("reserved", sa.Integer, nullable=False, server_default="0"),
        sa.CheckConstraint("held >= 0 AND reserved >= 0", name="ck_nights_counters"),
    )
    op.create_table(
        "holds",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("booking_id", sa.String(100), nullable=False, unique=True),
        sa.Column("user_id", sa.String(100), nullable=False),
        sa.Column("hotel_id", sa.Integer, nullable=False),
        sa.Column("room_type_id", sa.Integer, nullable=False),
        sa.Column("check_in", sa.Date, nullable=False),
        sa.Column("check_out", sa.Date, nullable=False),
        sa.Column("guests", sa.Integer, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("nights", sa.JSON, nullable=False),
        sa.Column("total", sa.Integer, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    # The sweeper looks for live holds past their expiry.
    op.create_index("ix_holds_status_expires", "holds", ["status", "expires_at"])
    op.create_index("ix_holds_user_id", "holds", ["user_id"])
    op.create_table(
        "reservations",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("confirmation_code", sa.String(12), nullable=False, unique=True),
        sa.Column("hold_id", sa.String(40), sa.ForeignKey("holds.id"), nullable=False, unique=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
    )
