"""Which services exist, and the ASGI app factory of each (for `staysaga serve`)."""

from __future__ import annotations

# component name -> "module:factory". The launcher starts every entry, in this order.
SERVICE_APPS: dict[str, str] = {
    "search": "services.search.app:create_app",
    "bank": "services.bank.app:create_app",
    "payments": "services.payments.app:create_app",
}
