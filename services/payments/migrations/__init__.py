"""Schema migrations of Payments."""
