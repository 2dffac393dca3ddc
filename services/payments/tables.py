"""Payments' billing records: one payment per booking, its transitions, its refunds."""

import sqlalchemy as sa

metadata = sa.MetaData()

payments = sa.Table(
    "payments",
    metadata,
    sa.Column("payment_id", sa.String(40), primary_key=True),
    sa.Column("booking_id", sa.String(100), nullable=False, unique=True),
    sa.Column("user_id", sa.String(100), nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("amount", sa.BigInteger, nullable=False),
    sa.Column("captured", sa.BigInteger, nullable=False),
    sa.Column("refunded", sa.BigInteger, nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    # Indexed: a token that paid for one booking is refused for any other.
    sa.Column("card_token", sa.String(64), nullable=False, index=True),
    sa.Column("card_last4", sa.String(4), nullable=True),
    sa.Column("card_brand", sa.String(20), nullable=True),
    sa.Column("bank_authorization_id", sa.String(40), nullable=False, unique=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)

transitions = sa.Table(
    "payment_transitions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("payment_id", sa.String(40), sa.ForeignKey("payments.payment_id"), nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("amount", sa.BigInteger, nullable=False),
    # One bank movement is recorded once, whatever retries deliver it again.
    sa.Column("bank_reference", sa.String(40), nullable=False, unique=True),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
)

refunds = sa.Table(
    "refunds",
    metadata,
    sa.Column("payment_id", sa.String(40), sa.ForeignKey("payments.payment_id"), primary_key=True),
    sa.Column("refund_id", sa.String(100), primary_key=True),
    sa.Column("amount", sa.BigInteger, nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("bank_reference", sa.String(40), nullable=False, unique=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)

# A booking's claim on the payment, taken before the bank is asked and settled after: the
# one row an authorization and a void both change, so whichever comes second sees the
# first. `requested` -> `authorized` (the payment row exists) or -> `voided` (the booking
# gave up; an authorization landing later is voided at the bank, never kept open).
# A booking may try several cards: a declined attempt is final, and the next one takes
# the intent over (still `requested`), its facts and bank key its own.
# The facts of the requested payment (null on a void with no payment asked for) let the
# reconciler record an authorization Payments never heard the answer of.
intents = sa.Table(
    "payment_intents",
    metadata,
    sa.Column("booking_id", sa.String(100), primary_key=True),
    sa.Column("state", sa.String(20), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("user_id", sa.String(100), nullable=True),
    sa.Column("amount", sa.BigInteger, nullable=True),
    sa.Column("currency", sa.String(3), nullable=True),
    sa.Column("card_token", sa.String(64), nullable=True),
    sa.Column("reconciled_at", sa.DateTime(timezone=True), nullable=True),
    # The attempt the facts are of (null: the first), and the latest the bank declined (or
    # refused the token of). A later attempt is taken only once the intent's is declined,
    # so at most one is ever open.
    sa.Column("attempt", sa.Integer, nullable=True),
    sa.Column("declined_attempt", sa.Integer, nullable=True),
)
