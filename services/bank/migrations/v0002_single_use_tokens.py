"""Single-use card tokens, each made for a payer: what consumes a token, and whose it is."""

import sqlalchemy as sa
from alembic.operations import Operations


def upgrade(op: Operations) -> None:
    """Add a token's customer and the moment its authorization used it; an authorization's
    customer.

    Tokens made before this migration belong to no customer; those an authorization has
    already used are marked used, so none of them pays a second time.
    """
    op.add_column("cards", sa.Column("customer", sa.String(100), nullable=True))
    op.add_column("cards", sa.Column("used_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("authorizations", sa.Column("customer", sa.String(100), nullable=True))
    op.execute(
        "UPDATE cards SET used_at = (SELECT min(a.created_at) FROM authorizations a"
        " WHERE a.token = cards.token)"
        " WHERE EXISTS (SELECT 1 FROM authorizations a WHERE a.token = cards.token)"
    )
