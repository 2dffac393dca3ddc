"""Schema migrations of the Search database (see services.common.migrations)."""
