"""The sign-in page: a server-rendered form, CSRF-protected, throttled (`throttle.py`),
saying nothing about which of e-mail or password was wrong. Passwords are checked by the
Users service."""

from __future__ import annotations

import hashlib
import hmac
import html
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

from services.auth.keys import SigningKey, active_key
from services.common.http import ServiceConnections, ServiceError
from services.users import api as users_api
from services.users.client import UsersClient

CSRF_COOKIE = "staysaga_auth_csrf"
CSRF_FIELD = "csrf_token"
LOGIN_FIELDS = ("email", "password", CSRF_FIELD)
WRONG_CREDENTIALS = "The e-mail address or password is not right."
TOO_MANY = "Too many wrong passwords. Please wait a moment and try again, or reset your password."
UNAVAILABLE = "Signing in is not possible right now. Please try again in a moment."


@dataclass(frozen=True)
class Account:
    """A traveller whose password checked out."""

    user_id: str
    name: str
    email_verified: bool


class InvalidCredentials(Exception):
    """Users said no (unknown e-mail or wrong password: we never say which)."""


async def check_credentials(connections: ServiceConnections, email: str, password: str) -> Account:
    """Ask Users whether the password is right; raise InvalidCredentials if not."""
    try:
        # Unvalidated here: Users judges the pair, and its "no" is the traveller's answer.
        check = users_api.CredentialCheck.model_construct(email=email, password=password)
        valid = await UsersClient(connections["users"]).check_credentials(check)
    except ServiceError as exc:
        # Only Users' own "no" counts against the traveller; a refused service token or a
        # Users outage must not look like a wrong password (nor lock anyone out).
        if exc.type == "invalid-credentials" or exc.status in (400, 422):
            raise InvalidCredentials from None
        raise
    return Account(valid.user_id, valid.name, valid.email_verified)


def _csrf_mac(key: SigningKey, nonce: str) -> str:
    # A MAC key of its own for each signing key, derived from its private part: copies of
    # the auth service share it through their database, and nobody outside can compute it.
    secret = hashlib.sha256(b"staysaga sign-in csrf\0" + key.key.as_bytes(private=True))
    return hmac.new(secret.digest(), nonce.encode(), hashlib.sha256).hexdigest()


def new_csrf_pair(keys: list[SigningKey], now: datetime) -> tuple[str, str]:
    """A random nonce for the cookie, and its MAC for the form (signed double submit)."""
    nonce = secrets.token_urlsafe(32)
    return nonce, _csrf_mac(active_key(keys, now), nonce)


def csrf_ok(keys: list[SigningKey], cookie: str | None, submitted: str | None) -> bool:
    """Whether the form carries the MAC of its cookie's nonce under one of our keys.

    A plain double submit (the same random value in cookie and form) lets whoever can set
    a cookie for the auth service's host pick both; the MAC needs a key only we hold.
    """
    if not cookie or not submitted:
        return False
    # As bytes: compare_digest refuses (TypeError) a str that is not ASCII.
    given = str(submitted).encode()
    return any(hmac.compare_digest(_csrf_mac(key, cookie).encode(), given) for key in keys)


def same_origin(headers: Mapping[str, str], issuer: str) -> bool:
    """Whether the browser says the sign-in form was posted from our own page.

    A valid cookie and form pair is easy to get (open the page); an attacker who can also
    plant that cookie in a victim's browser must still post from their own site, and the
    browser names that site in `Sec-Fetch-Site` and `Origin`, which no page can forge.
    Clients that send neither (not browsers) are judged by the CSRF pair alone.
    """
    site = headers.get("sec-fetch-site")
    if site is not None:
        return site == "same-origin"
    origin = headers.get("origin")
    if origin is None:
        return True
    ours = urlsplit(issuer)
    return origin.rstrip("/") == f"{ours.scheme}://{ours.netloc}"


def login_page(
    params: Sequence[tuple[str, str]], csrf: str, email: str = "", error: str | None = None
) -> str:
    """The sign-in form, carrying the authorization request along in hidden fields."""
    hidden = "".join(
        f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
        for k, v in params
        if k not in LOGIN_FIELDS
    )
    alert = f'<p role="alert" class="error">{html.escape(error)}</p>' if error else ""
    return f"""<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sign in - staysaga</title>
<style>
body{{font-family:system-ui,sans-serif;max-width:24rem;margin:4rem auto;padding:0 1rem}}
label{{display:block;margin-top:1rem;font-weight:600}}
input[type=email],input[type=password]{{width:100%;padding:.5rem;font-size:1rem}}
button{{margin-top:1.5rem;padding:.6rem 1.2rem;font-size:1rem}}
.error{{color:#a00;border:1px solid #a00;padding:.5rem}}
</style></head>
<body><main>
<h1>Sign in to staysaga</h1>
{alert}
<form method="post" action="/oauth2/authorize">
<input type="hidden" name="{CSRF_FIELD}" value="{html.escape(csrf)}">
{hidden}
<label for="email">E-mail address</label>
<input id="email" name="email" type="email" autocomplete="username" required
 value="{html.escape(email)}">
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required>
<button type="submit">Sign in</button>
</form>
</main></body></html>
"""


def error_page(message: str) -> str:
    """A page for an authorization request we cannot send back to the website."""
    return (
        '<!doctype html><html lang="en"><meta charset="utf-8"><title>Sign-in problem - staysaga'
        f'</title><main><h1>Sign-in problem</h1><p role="alert">{html.escape(message)}</p>'
        "</main></html>"
    )
