"""The scopes of Users's routes, apart from its models: the component registry
names them in every process, which need not build the contract's models to do so.
`api.py` re-exports them."""

from __future__ import annotations

__all__ = [
    "REGISTER",
    "READ",
    "CREDENTIALS",
    "NOTIFY",
    "PROFILE",
    "OPS_READ",
    "OPS_WRITE",
    "TRAVELLER",
    "OPERATOR",
]

from typing import Final

# Scopes: what a token must carry for each kind of route.
REGISTER = "users:register"
"""Sign up, verify an address, request and confirm a password reset (the website)."""
READ = "users:read"
"""Read an account by id (services)."""
CREDENTIALS = "users:credentials"
"""Check an e-mail and password (the auth server's sign-in)."""
NOTIFY = "users:notify"
"""E-mail a booking event to an account, and follow the message."""
PROFILE = "profile"
"""A traveller's own account (/users/me), by a token the website got for them."""
OPS_READ = "ops:read"
"""An operator's sign-in: list and read any booking (the website's operator pages)."""
OPS_WRITE = "ops:write"
"""An operator's sign-in: act on any booking (cancel, resend the confirmation)."""

# Roles: every account is a traveller; an operator also runs the operator pages.
TRAVELLER: Final = "traveller"
OPERATOR: Final = "operator"
