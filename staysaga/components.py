"""Which services exist, and the ASGI app factory of each (for `staysaga serve`)."""

from __future__ import annotations

# component name -> "module:factory". The launcher starts every entry, in this order.
# Auth comes first (right after the Temporal server): every other process needs tokens.
SERVICE_APPS: dict[str, str] = {
    "auth": "services.auth.app:create_app",
    "search": "services.search.app:create_app",
}
