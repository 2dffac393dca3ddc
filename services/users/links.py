"""Signed, expiring tokens for the links in account e-mails (verify address, reset password)
and for signing a new account in right after sign-up.

A token is `<payload>.<signature>`, both base64url: the payload is JSON naming the purpose,
the user, the expiry and a fingerprint of the state the link is for (the address being
verified; the password hash being replaced, so a reset link works once); the signature is
HMAC-SHA256 under USERS_LINK_SECRET.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from dataclasses import dataclass

VERIFY_EMAIL = "verify-email"
RESET_PASSWORD = "reset-password"  # noqa: S105 - a purpose name, not a secret
VERIFY_EMAIL_TTL_SECONDS = 48 * 3600
RESET_PASSWORD_TTL_SECONDS = 3600
# A sign-up ticket signs the new account in once, for the sign-in whose PKCE challenge it
# names: stolen alone it is useless, since only the website's session holds the verifier.
SIGN_IN_AFTER_SIGN_UP = "sign-in-after-sign-up"
SIGN_IN_AFTER_SIGN_UP_TTL_SECONDS = 600


class InvalidLink(Exception):
    """The token is forged, damaged, expired or for another purpose."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def fingerprint(value: str) -> str:
    """A short digest of the state a link depends on."""
    return hashlib.sha256(value.encode()).hexdigest()[:24]


@dataclass(frozen=True)
class LinkClaims:
    """What a valid token says."""

    purpose: str
    user_id: str
    fingerprint: str
    expires_at: int


class LinkSigner:
    """Makes and checks link tokens with one secret."""

    def __init__(self, secret: str) -> None:
        self._key = hashlib.sha256(b"staysaga-users-links:" + secret.encode()).digest()

    def _signature(self, payload: str) -> str:
        return _b64(hmac.new(self._key, payload.encode(), hashlib.sha256).digest())

    def make(
        self, purpose: str, user_id: str, state: str, ttl: int, now: float | None = None
    ) -> str:
        """A token for `purpose`, valid `ttl` seconds while `state` stays the same."""
        expires = int((time.time() if now is None else now) + ttl)
        body = {"p": purpose, "u": user_id, "f": fingerprint(state), "e": expires}
        payload = _b64(json.dumps(body, separators=(",", ":")).encode())
        return f"{payload}.{self._signature(payload)}"

    def check(self, token: str, purpose: str, now: float | None = None) -> LinkClaims:
        """The claims of a good token for `purpose`, or InvalidLink."""
        payload, _, signature = token.partition(".")
        # As bytes: compare_digest refuses (TypeError) a str that is not ASCII.
        expected = self._signature(payload).encode()
        if not payload or not hmac.compare_digest(signature.encode(), expected):
            raise InvalidLink("bad signature")
        try:
            body = json.loads(_unb64(payload))
            claims = LinkClaims(str(body["p"]), str(body["u"]), str(body["f"]), int(body["e"]))
        except (ValueError, KeyError, TypeError):
            raise InvalidLink("malformed") from None
        if claims.purpose != purpose:
            raise InvalidLink("wrong purpose")
        if claims.expires_at < (time.time() if now is None else now):
            raise InvalidLink("expired")
        return claims
