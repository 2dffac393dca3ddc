"""Payments, their transitions and their refunds."""

import sqlalchemy as sa
from alembic.operations import Operations


def upgrade(op: Operations) -> None:
    """Create the billing tables; totals are CHECKed like the bank's ledger."""
    op.create_table(
        "payments",
        sa.Column("payment_id", sa.String(40), primary_key=True),
        sa.Column("booking_id", sa.String(100), nullable=False, unique=True),
        sa.Column("user_id", sa.String(100), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("amount", sa.BigInteger, nullable=False),
        sa.Column("captured", sa.BigInteger, nullable=False),
        sa.Column("refunded", sa.BigInteger, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("card_token", sa.String(64), nullable=False),
        sa.Column("card_last4", sa.String(4), nullable=True),
        sa.Column("card_brand", sa.String(20), nullable=True),
        sa.Column("bank_authorization_id", sa.String(40), nullable=False, unique=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "amount > 0 AND captured >= 0 AND refunded >= 0 "
            "AND amount >= captured AND captured >= refunded",
            name="ck_payments_totals",
        ),
    )
    op.create_index("ix_payments_user_id", "payments", ["user_id", "created_at"])
    op.create_table(
        "payment_transitions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column(
            "payment_id", sa.String(40), sa.ForeignKey("payments.payment_id"), nullable=False
        ),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("amount", sa.BigInteger, nullable=False),
        sa.Column("bank_reference", sa.String(40), nullable=False, unique=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_payment_transitions_payment_id", "payment_transitions", ["payment_id"])
    op.create_table(
        "refunds",
        sa.Column(
            "payment_id", sa.String(40), sa.ForeignKey("payments.payment_id"), primary_key=True
        ),
        sa.Column("refund_id", sa.String(100), primary_key=True),
        sa.Column("amount", sa.BigInteger, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("bank_reference", sa.String(40), nullable=False, unique=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
