import sqlalchemy as sa
from alembic.operations import Operations


def upgrade(op: Operations) -> None:
    with op.batch_alter_table("notes") as batch:
        batch.add_column(
            sa.Column("author", sa.String(50), nullable=False, server_default="anonymous")
        )
