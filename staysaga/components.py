"""Which services exist, and the ASGI app factory of each (for `staysaga serve`)."""

from __future__ import annotations

# component name -> "module:factory". The launcher starts every entry, in this order.
# Auth comes first (right after the Temporal server): every other process needs tokens.
SERVICE_APPS: dict[str, str] = {
    "auth": "services.auth.app:create_app",
    "reservations": "services.reservations.app:create_app",
    # Search asks Reservations for availability: it starts after it.
    "search": "services.search.app:create_app",
    "bank": "services.bank.app:create_app",
    "payments": "services.payments.app:create_app",
    # The mail sink first: Users hands e-mails to its SMTP port as soon as it starts.
    "mailsink": "services.mailsink.app:create_app",
    "pdf": "services.pdf.app:create_app",
    "users": "services.users.app:create_app",
    # Last: the website calls everything above.
    "web": "web.app:create_app",
}

# Temporal workers `up` runs, by task queue: each starts once the service its activities
# call exists (None: the workflow worker, which calls no service).
WORKER_SERVICES: dict[str, str | None] = {
    "booking": None,
    "reservations": "reservations",
    "payments": "payments",
    "documents": "pdf",
    "notifications": "users",
}


def workers_to_run() -> list[str]:
    """The task queues whose worker `up` starts, given the services that exist."""
    return [
        q for q, service in WORKER_SERVICES.items() if service is None or service in SERVICE_APPS
    ]
