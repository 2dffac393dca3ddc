"""The bank's tables: cards, authorizations, the ledger, idempotency records."""

import sqlalchemy as sa

metadata = sa.MetaData()

cards = sa.Table(
    "cards",
    metadata,
    sa.Column("token", sa.String(40), primary_key=True),
    # Not even the bank keeps the number (so no SQL debug log can show it): what it needs
    # of it — brand, last4, and a test card's scripted behaviour — is decided at tokenization.
    sa.Column("behaviour", sa.String(20), nullable=False),
    sa.Column("brand", sa.String(20), nullable=False),
    sa.Column("last4", sa.String(4), nullable=False),
    sa.Column("exp_month", sa.Integer, nullable=False),
    sa.Column("exp_year", sa.Integer, nullable=False),
    sa.Column("holder", sa.String(200), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    # The payer the merchant made the token for (null: anyone), and when the one
    # authorization a token is good for consumed it.
    sa.Column("customer", sa.String(100), nullable=True),
    sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
)

authorizations = sa.Table(
    "authorizations",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("token", sa.String(40), sa.ForeignKey("cards.token"), nullable=False),
    sa.Column("amount", sa.BigInteger, nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("reference", sa.String(200), nullable=False),
    sa.Column("customer", sa.String(100), nullable=True),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("captured", sa.BigInteger, nullable=False),
    sa.Column("refunded", sa.BigInteger, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)

ledger_entries = sa.Table(
    "ledger_entries",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column(
        "authorization_id", sa.String(40), sa.ForeignKey("authorizations.id"), nullable=False
    ),
    sa.Column("seq", sa.Integer, nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("amount", sa.BigInteger, nullable=False),
    sa.Column("idempotency_key", sa.String(255), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)

idempotency_keys = sa.Table(
    "idempotency_keys",
    metadata,
    sa.Column("key", sa.String(255), primary_key=True),
    sa.Column("fingerprint", sa.String(64), nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("response_status", sa.Integer, nullable=True),
    sa.Column("response_body", sa.Text, nullable=True),
    sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
)
