"""Which services exist, and the ASGI app factory of each (for `staysaga serve`)."""

from __future__ import annotations

# component name -> "module:factory". The launcher starts every entry, in this order.
SERVICE_APPS: dict[str, str] = {
    "search": "services.search.app:create_app",
    # The mail sink first: Users hands e-mails to its SMTP port as soon as it starts.
    "mailsink": "services.mailsink.app:create_app",
    "pdf": "services.pdf.app:create_app",
    "users": "services.users.app:create_app",
}
