"""A booking's payment attempts: a declined card may be followed by another."""

import sqlalchemy as sa
from alembic.operations import Operations


def upgrade(op: Operations) -> None:
    """Add the attempt an intent's facts are of, and the latest attempt declined.

    Both are null for intents taken before: their one attempt is the first, under the
    bank key it always had.
    """
    op.add_column("payment_intents", sa.Column("attempt", sa.Integer, nullable=True))
    op.add_column("payment_intents", sa.Column("declined_attempt", sa.Integer, nullable=True))
