"""The Users database's tables (the schema itself is made by `migrations/`)."""

import sqlalchemy as sa

metadata = sa.MetaData()

users = sa.Table(
    "users",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    # Stored lower-cased and trimmed: one account per address, whatever its case.
    sa.Column("email", sa.String(320), nullable=False, unique=True),
    sa.Column("name", sa.String(200), nullable=False),
    # argon2id in PHC string form (parameters and salt included).
    sa.Column("password_hash", sa.String(200), nullable=False),
    sa.Column("email_verified", sa.Boolean, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)

# The roles an account holds besides traveller, which every account is: operator.
user_roles = sa.Table(
    "user_roles",
    metadata,
    sa.Column("user_id", sa.String(32), sa.ForeignKey("users.id"), primary_key=True),
    sa.Column("role", sa.String(32), primary_key=True),
    sa.Column("granted_at", sa.DateTime(timezone=True), nullable=False),
)

# Transactional outbox: a message row is written in the same transaction as what caused it
# (a sign-up, a reset request, a saga's notification) and the delivery loop hands it to SMTP.
outbox = sa.Table(
    "outbox",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    # Idempotency key; the Message-ID header is derived from it.
    sa.Column("message_key", sa.String(200), nullable=False, unique=True),
    sa.Column("user_id", sa.String(32), nullable=False),
    sa.Column("template", sa.String(40), nullable=False),
    sa.Column("to_address", sa.String(320), nullable=False),
    sa.Column("subject", sa.String(300), nullable=False),
    sa.Column("text_body", sa.Text, nullable=False),
    sa.Column("html_body", sa.Text, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),  # pending | sent
    sa.Column("attempts", sa.Integer, nullable=False),
    # Also the lease: a sender claims a row by pushing this forward (conditional UPDATE).
    sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("last_error", sa.String(500), nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
)

outbox_attachments = sa.Table(
    "outbox_attachments",
    metadata,
    sa.Column("message_id", sa.String(32), sa.ForeignKey("outbox.id"), primary_key=True),
    sa.Column("position", sa.Integer, primary_key=True),
    sa.Column("filename", sa.String(200), nullable=False),
    sa.Column("content_type", sa.String(100), nullable=False),
    sa.Column("content", sa.LargeBinary, nullable=False),
)
