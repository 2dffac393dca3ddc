"""What every OAuth 2 client of the authorization server shares, whichever it is: HTTP
Basic client authentication, form bodies, and the two documents every process reads.

Services, workers and the website call the token endpoint through the authorization
server's own client (`client.py` of its package). `services/common/` cannot import it
(it knows no service), yet every process gets its service tokens and checks tokens through
common code: that code reads the answers into the models below, which hold the fields the
standards fix (RFC 6749 section 5.1, RFC 7517 section 5). A test checks that the server's
contract still answers what they read.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from pydantic import BaseModel

FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"
DEFAULT_EXPIRES_IN = 60
"""Seconds a token is taken to last when the answer does not say (RFC 6749 makes
`expires_in` optional): short, so that a token of unknown life is soon asked for again."""


class IssuedToken(BaseModel):
    """The token endpoint's answer, as far as a process getting a token for itself reads it."""

    access_token: str
    expires_in: float = DEFAULT_EXPIRES_IN


class KeySetDocument(BaseModel):
    """A JSON Web Key Set: the public keys that sign access tokens."""

    keys: list[dict[str, Any]]


def basic_auth(client_id: str, client_secret: str) -> dict[str, str]:
    """The header that authenticates an OAuth client by its id and secret (HTTP Basic)."""
    pair = base64.b64encode(f"{client_id}:{client_secret}".encode()).decode()
    return {"Authorization": f"Basic {pair}"}


def form_body(fields: Mapping[str, str]) -> tuple[bytes, dict[str, str]]:
    """A form-encoded request body and its content-type header: OAuth endpoints take forms."""
    return urlencode(fields).encode(), {"Content-Type": FORM_CONTENT_TYPE}
