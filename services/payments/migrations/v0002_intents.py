"""Payment intents: the fence between a booking's authorization and its void."""

import sqlalchemy as sa
from alembic.operations import Operations


def upgrade(op: Operations) -> None:
    """Create the intents table; a payment recorded before it existed counts as authorized."""
    op.create_table(
        "payment_intents",
        sa.Column("booking_id", sa.String(100), primary_key=True),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_payment_intents_state", "payment_intents", ["state", "updated_at"])
    op.execute(
        "INSERT INTO payment_intents (booking_id, state, created_at, updated_at) "
        "SELECT booking_id, 'authorized', created_at, updated_at FROM payments"
    )
