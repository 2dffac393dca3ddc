"""Schema migrations of the Users database (see services.common.migrations)."""
