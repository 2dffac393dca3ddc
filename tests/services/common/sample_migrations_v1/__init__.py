"""A service's migrations as first released: one table."""
