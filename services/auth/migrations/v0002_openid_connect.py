"""OpenID Connect: the nonce and sign-in time of a code, and what ID tokens say of a person."""

import sqlalchemy as sa
from alembic.operations import Operations


def upgrade(op: Operations) -> None:
    """Add the code's OpenID Connect columns and the profiles table."""
    with op.batch_alter_table("authorization_codes") as batch:
        batch.add_column(sa.Column("nonce", sa.Text, nullable=True))
        batch.add_column(sa.Column("auth_time", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "oidc_profiles",
        sa.Column("user_id", sa.String(64), primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("email", sa.Text, nullable=False),
        sa.Column("email_verified", sa.Boolean, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
