"""The sign-in page: a server-rendered form, CSRF-protected, rate-limited, saying nothing
about which of e-mail or password was wrong. Passwords are checked by the Users service."""

from __future__ import annotations

import hmac
import html
import secrets
import time
from collections import defaultdict, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from services.common.http import ServiceClients, ServiceError

CSRF_COOKIE = "staysaga_auth_csrf"
CSRF_FIELD = "csrf_token"
LOGIN_FIELDS = ("email", "password", CSRF_FIELD)
CREDENTIALS_SCOPE = "users:credentials"
WRONG_CREDENTIALS = "The e-mail address or password is not right."
TOO_MANY = "Too many sign-in attempts. Please wait a few minutes and try again."
UNAVAILABLE = "Signing in is not possible right now. Please try again in a moment."


class LoginLimiter:
    """Failed sign-ins counted per account and per address in a sliding window.

    Kept in memory: each copy of the auth service counts on its own (the limits are per
    process; run the service behind a sticky or shared limiter if you scale it out).
    """

    def __init__(
        self,
        per_account: int = 5,
        per_address: int = 20,
        window_seconds: float = 15 * 60,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.per_account = per_account
        self.per_address = per_address
        self.window = window_seconds
        self._failures: defaultdict[str, deque[float]] = defaultdict(deque)
        self.now = clock

    def _recent(self, key: str) -> deque[float]:
        stamps = self._failures[key]
        cutoff = self.now() - self.window
        while stamps and stamps[0] <= cutoff:
            stamps.popleft()
        return stamps

    def retry_after(self, email: str, address: str) -> int | None:
        """Seconds to wait, if the account or the address has failed too often."""
        waits = []
        for key, limit in (
            (f"account:{email}", self.per_account),
            (f"ip:{address}", self.per_address),
        ):
            stamps = self._recent(key)
            if len(stamps) >= limit:
                waits.append(int(stamps[0] + self.window - self.now()) + 1)
        return max(waits) if waits else None

    def failed(self, email: str, address: str) -> None:
        """Count a failed attempt."""
        now = self.now()
        self._failures[f"account:{email}"].append(now)
        self._failures[f"ip:{address}"].append(now)

    def succeeded(self, email: str) -> None:
        """A good sign-in clears the account's failures (not the address's)."""
        self._failures.pop(f"account:{email}", None)


@dataclass(frozen=True)
class Account:
    """A traveller whose password checked out."""

    user_id: str
    name: str
    email_verified: bool


class InvalidCredentials(Exception):
    """Users said no (unknown e-mail or wrong password: we never say which)."""


async def check_credentials(clients: ServiceClients, email: str, password: str) -> Account:
    """Ask Users whether the password is right; raise InvalidCredentials if not."""
    try:
        response = await clients["users"].request(
            "POST",
            "/credentials/check",
            scopes=CREDENTIALS_SCOPE,
            json={"email": email, "password": password},
        )
    except ServiceError as exc:
        # Only Users' own "no" counts against the traveller; a refused service token or a
        # Users outage must not look like a wrong password (nor lock anyone out).
        if exc.type == "invalid-credentials" or exc.status in (400, 422):
            raise InvalidCredentials from None
        raise
    body = response.json()
    return Account(
        str(body["user_id"]), str(body.get("name", "")), bool(body.get("email_verified"))
    )


def new_csrf_token() -> str:
    """A random token for the form and its cookie (double submit)."""
    return secrets.token_urlsafe(32)


def csrf_ok(cookie: str | None, submitted: str | None) -> bool:
    """Whether the form carries the token its cookie holds."""
    if not (cookie and submitted):
        return False
    # As bytes: compare_digest refuses (TypeError) a str that is not ASCII.
    return hmac.compare_digest(str(cookie).encode(), str(submitted).encode())


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
