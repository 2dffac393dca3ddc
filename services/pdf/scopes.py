"""The scopes of the PDF service's routes, apart from its models: the component registry
names them in every process, which need not build the contract's models to do so.
`api.py` re-exports them."""

from __future__ import annotations

__all__ = ["RENDER", "READ"]

# Scopes: what a token must carry for each kind of route.
RENDER = "documents:render"
"""Render documents (the saga's documents worker)."""
READ = "documents:read"
"""Download documents (a traveller's token reaches only their own)."""
