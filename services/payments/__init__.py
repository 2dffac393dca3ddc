"""Payments: the bank's only client, keeping a billing record per booking."""
