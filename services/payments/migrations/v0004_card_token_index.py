"""Find a payment by its card token: an authorization refuses a token another paid with."""

from alembic.operations import Operations


def upgrade(op: Operations) -> None:
    """Index payments by card token."""
    op.create_index("ix_payments_card_token", "payments", ["card_token"])
