"""Schema migrations of the PDF service's database (see services.common.migrations)."""
