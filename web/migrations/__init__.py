"""The website's schema migrations (sessions only)."""
