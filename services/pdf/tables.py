"""The PDF service's tables (the schema itself is made by `migrations/`)."""

import sqlalchemy as sa

metadata = sa.MetaData()

documents = sa.Table(
    "documents",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    # The caller's idempotency key: the same key always names the same document.
    sa.Column("key", sa.String(200), nullable=False, unique=True),
    sa.Column("template", sa.String(40), nullable=False),
    sa.Column("owner_id", sa.String(200), nullable=False),
    # Of the validated data, so a reused key with other data is refused, not ignored.
    sa.Column("data_sha256", sa.String(64), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("size", sa.Integer, nullable=False),
    # Receipts are small (a few kB): kept in the database, so backups and replicas carry them.
    sa.Column("content", sa.LargeBinary, nullable=False),
)
