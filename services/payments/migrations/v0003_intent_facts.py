"""What an intent was for, and when it was last reconciled: what a repair needs."""

import sqlalchemy as sa
from alembic.operations import Operations


def upgrade(op: Operations) -> None:
    """Add the requested payment's facts and a reconciliation mark to intents.

    The facts are null for intents taken before this migration: a repair of one of those
    voids the bank's authorization but cannot record a payment for it.
    """
    for column in (
        sa.Column("user_id", sa.String(100), nullable=True),
        sa.Column("amount", sa.BigInteger, nullable=True),
        sa.Column("currency", sa.String(3), nullable=True),
        sa.Column("card_token", sa.String(64), nullable=True),
        sa.Column("reconciled_at", sa.DateTime(timezone=True), nullable=True),
    ):
        op.add_column("payment_intents", column)
