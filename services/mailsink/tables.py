"""The mail sink's tables (the schema itself is made by `migrations/`)."""

import sqlalchemy as sa

metadata = sa.MetaData()

messages = sa.Table(
    "messages",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
    # The SMTP envelope sender (MAIL FROM), which may differ from the From header.
    sa.Column("mail_from", sa.String(320), nullable=False),
    sa.Column("subject", sa.String(998), nullable=False),
    sa.Column("message_id", sa.String(998), nullable=False),
    # The message exactly as received; everything else is parsed from it when read.
    sa.Column("raw", sa.LargeBinary, nullable=False),
)

# Envelope recipients (RCPT TO), lower-cased: what `?to=` filters on.
recipients = sa.Table(
    "recipients",
    metadata,
    sa.Column("message_id", sa.Integer, sa.ForeignKey("messages.id"), primary_key=True),
    sa.Column("address", sa.String(320), primary_key=True),
)
