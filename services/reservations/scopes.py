"""The scopes of Reservations's routes, apart from its models: the component registry
names them in every process, which need not build the contract's models to do so.
`api.py` re-exports them."""

from __future__ import annotations

__all__ = ["READ", "WRITE", "ADMIN", "RECONCILE"]

# Scopes: what a token must carry for each kind of route.
READ = "reservations:read"
"""Read holds, reservations and availability (a traveller's token: only their own)."""
WRITE = "reservations:write"
"""Place, release and confirm holds; cancel reservations."""
ADMIN = "reservations:admin"
"""Change a room type's inventory."""
RECONCILE = "reservations:reconcile"
"""List what bookings that gave up may still keep; only services get it."""
