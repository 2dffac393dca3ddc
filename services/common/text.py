"""Text keys for matching names whatever their case and accents."""

import unicodedata


def search_key(text: str) -> str:
    """Lower-case, accent-free, single-spaced form of a name: "São Paulo" -> "sao paulo"."""
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(stripped.casefold().replace("-", " ").split())
