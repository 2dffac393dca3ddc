"""The syntax of OAuth parameters and Basic credentials, checked before authlib sees them.

RFC 6749 (Appendix A), RFC 7636 and RFC 8707 say which characters each parameter may
hold. authlib assumes it: it quotes `redirect_uri` and `response_type` in its error
descriptions and refuses (with an exception, so a 500) to build an error whose
description holds `"`, `\\` or anything outside printable ASCII; it also decodes Basic
credentials as UTF-8 without catching the failure. Input outside the syntax is the
client's error, answered here.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterable

from starlette.datastructures import Headers

_VSCHAR = r"[\x20-\x7e]*"
_NQCHAR = r"[\x21\x23-\x5b\x5d-\x7e]*"
# RFC 3986: unreserved, reserved and percent-encoded characters (no quote, backslash, space).
_URI = r"[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]*"
_UNRESERVED = r"[A-Za-z0-9\-._~]*"

SYNTAX: dict[str, re.Pattern[str]] = {
    name: re.compile(pattern)
    for name, pattern in {
        "client_id": _VSCHAR,
        "client_secret": _VSCHAR,
        "response_type": r"[A-Za-z0-9_ ]*",
        "grant_type": _URI,
        "scope": rf"{_NQCHAR}( {_NQCHAR})*",
        "state": _VSCHAR,
        "redirect_uri": _URI,
        "code": _VSCHAR,
        "refresh_token": _VSCHAR,
        "code_verifier": _UNRESERVED,
        "code_challenge": _UNRESERVED,
        "code_challenge_method": _UNRESERVED,
        # Our own message about an unknown resource quotes it: no apostrophe either.
        "resource": _URI.replace("'", ""),
        "token_type_hint": _UNRESERVED,
        "signup_ticket": _UNRESERVED,
        "nonce": _VSCHAR,
    }.items()
}


def malformed_parameter(pairs: Iterable[tuple[str, str]]) -> str | None:
    """The name of the first parameter whose value breaks its syntax, or None."""
    for name, value in pairs:
        syntax = SYNTAX.get(name)
        if syntax is not None and syntax.fullmatch(value) is None:
            return name
    return None


def basic_credentials_readable(headers: Headers) -> bool:
    """False when an `Authorization: Basic` header decodes to something that is not UTF-8."""
    scheme, _, credentials = headers.get("authorization", "").strip().partition(" ")
    if scheme.lower() != "basic":
        return True
    try:
        base64.b64decode(credentials.strip()).decode("utf-8")
    except binascii.Error:
        return True  # authlib takes undecodable base64 for no credentials at all
    except ValueError:  # not ASCII, or not UTF-8 once decoded
        return False
    return True
