"""Schema migrations of the mail sink's database (see services.common.migrations)."""
