"""The scopes of Payments's routes, apart from its models: the component registry
names them in every process, which need not build the contract's models to do so.
`api.py` re-exports them."""

from __future__ import annotations

__all__ = ["CHARGE", "READ", "RECONCILE"]

# Scopes: what a token must carry for each kind of route.
CHARGE = "payments:charge"
"""Authorize, capture, void and refund."""
READ = "payments:read"
"""Read payments (a traveller's token reaches only their own)."""
RECONCILE = "payments:reconcile"
"""List suspects and repair them; only services get it."""
