"""Schema migrations of the Reservations database (see services.common.migrations)."""
