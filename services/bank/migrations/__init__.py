"""Schema migrations of the bank."""
