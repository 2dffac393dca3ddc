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
SIGNUP_TICKET = "signup_ticket"
LOGIN_FIELDS = ("email", "password", CSRF_FIELD, SIGNUP_TICKET)
WRONG_CREDENTIALS = "The e-mail address or password is not right."
TOO_MANY = "Too many wrong passwords. Please wait a moment and try again, or reset your password."
UNAVAILABLE = "Signing in is not possible right now. Please try again in a moment."
SIGNUP_TICKET_REFUSED = "Your account is ready: please sign in with it."
ROLE_REFUSED = (
    "This sign-in is for staysaga's operators only, and your account is not one. "
    "To book or see your bookings, use the staysaga website."
)


@dataclass(frozen=True)
class Account:
    """A traveller whose password checked out."""

    user_id: str
    name: str
    email_verified: bool
    roles: tuple[str, ...] = ()


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
        if exc.type == users_api.INVALID_CREDENTIALS or exc.status in (400, 422):
            raise InvalidCredentials from None
        raise
    return Account(valid.user_id, valid.name, valid.email_verified, tuple(valid.roles))


async def signed_up_account(
    connections: ServiceConnections, ticket: str, code_challenge: str
) -> Account:
    """The account a sign-up ticket signs in, for the authorization request with this code
    challenge (Users made the ticket for it); raise InvalidCredentials if not."""
    try:
        redeem = users_api.SignupTicket(ticket=ticket, code_challenge=code_challenge)
    except ValueError:
        raise InvalidCredentials from None
    try:
        valid = await UsersClient(connections["users"]).redeem_signup_ticket(redeem)
    except ServiceError as exc:
        if exc.type == users_api.INVALID_CREDENTIALS or exc.status in (400, 422):
            raise InvalidCredentials from None
        raise
    return Account(valid.user_id, valid.name, valid.email_verified, tuple(valid.roles))


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


# The website's look (its colours, type and header), inline: the page's policy loads nothing.
_STYLE = """
:root{--ink:#1d2330;--muted:#5b6475;--line:#d8dde6;--bg:#f6f7fa;--card:#fff;--accent:#0b5cad;
--bad:#b3261e;--radius:8px;font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;
line-height:1.5;color:var(--ink);background:var(--bg)}
*{box-sizing:border-box}body{margin:0}a{color:var(--accent)}
header{display:flex;flex-wrap:wrap;align-items:center;justify-content:space-between;gap:.5rem;
padding:.75rem 1rem;background:var(--card);border-bottom:1px solid var(--line)}
header ul{display:flex;gap:1rem;list-style:none;margin:0;padding:0}
.brand{font-weight:700;font-size:1.25rem;text-decoration:none;color:var(--ink)}
main{max-width:26rem;margin:0 auto;padding:1rem}
.card{background:var(--card);border:1px solid var(--line);border-radius:var(--radius);padding:1rem}
h1{font-size:1.6rem;line-height:1.2}
label{display:block;margin-top:1rem;font-weight:600}
input[type=email],input[type=password]{font:inherit;width:100%;padding:.55rem .6rem;
border:1px solid #9aa3b2;border-radius:var(--radius);background:#fff}
button{font:inherit;margin-top:1.25rem;padding:.6rem 1.1rem;border:0;
border-radius:var(--radius);background:var(--accent);color:#fff;cursor:pointer}
button:focus-visible,a:focus-visible,input:focus-visible,[tabindex="-1"]:focus{
outline:3px solid var(--ink);outline-offset:2px}
.error{color:var(--bad);font-weight:600;border-left:4px solid var(--bad);padding:.25rem .75rem}
footer{color:var(--muted);text-align:center;padding:2rem 1rem;font-size:.9rem}
"""


def login_page(
    params: Sequence[tuple[str, str]],
    csrf: str,
    email: str = "",
    error: str | None = None,
    site: str = "",
) -> str:
    """The sign-in form, carrying the authorization request along in hidden fields; it looks
    like the website (`site`, its address) and links its sign-up and password reset."""
    hidden = "".join(
        f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
        for k, v in params
        if k not in LOGIN_FIELDS
    )
    # Focused as the page opens (no script runs here), so it is read before the form.
    alert = (
        f'<p role="alert" class="error" id="sign-in-error" tabindex="-1" autofocus>'
        f"{html.escape(error)}</p>"
        if error
        else ""
    )
    home = html.escape(site.rstrip("/"))
    return f"""<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sign in · staysaga</title>
<style>{_STYLE}</style></head>
<body>
<header><a class="brand" href="{home}/">staysaga</a>
<nav aria-label="Account"><ul><li><a href="{home}/">Search</a></li>
<li><a href="{home}/signup">Sign up</a></li></ul></nav></header>
<main>
<h1>Sign in</h1>
{alert}
<form method="post" action="/oauth2/authorize" class="card">
<input type="hidden" name="{CSRF_FIELD}" value="{html.escape(csrf)}">
{hidden}
<label for="email">E-mail address</label>
<input id="email" name="email" type="email" autocomplete="username" required
 value="{html.escape(email)}">
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required>
<button type="submit">Sign in</button>
<p><a href="{home}/account/forgot-password">Forgot your password?</a></p>
</form>
<p>New to staysaga? <a href="{home}/signup">Create an account</a>.</p>
</main>
<footer>staysaga — hotel booking, every booking a saga.</footer>
</body></html>
"""


def error_page(message: str) -> str:
    """A page for an authorization request we cannot send back to the website."""
    return (
        '<!doctype html><html lang="en"><meta charset="utf-8"><title>Sign-in problem - staysaga'
        f'</title><main><h1>Sign-in problem</h1><p role="alert">{html.escape(message)}</p>'
        "</main></html>"
    )
