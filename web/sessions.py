"""Server-side sessions behind a signed cookie, and the CSRF tokens of forms.

The cookie carries only a random session id and its HMAC; the data (OAuth tokens, the
CSRF token, a login in progress) stays in the website's own database, where the row is
keyed by a hash of the id, so a leaked table gives no usable cookie.

A visitor without a stored session gets no row for reading pages and opening forms: their
forms carry an HMAC of a random nonce kept in a cookie of its own (a signed double
submit), which only the website can compute. A session's own token is kept in the session.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from web.tables import sessions

log = logging.getLogger("staysaga.web.sessions")

COOKIE_NAME = "staysaga_session"
CSRF_COOKIE = "staysaga_csrf"
SESSION_LIFETIME = timedelta(hours=12)
CSRF_FIELD = "csrf_token"
_CSRF_KEY = "csrf"


class Session(dict[str, Any]):
    """One visitor's session data; the middleware saves it when it changed."""

    def __init__(self, sid: str | None = None, data: dict[str, Any] | None = None) -> None:
        super().__init__(data or {})
        self.sid = sid
        self.snapshot = _dump(self) if sid else None
        self.rotate_requested = False
        self.invalidated = False

    def rotate(self) -> None:
        """Give the session a new id on save (after login: no session fixation)."""
        self.rotate_requested = True

    def invalidate(self) -> None:
        """Forget the session entirely (logout)."""
        self.clear()
        self.invalidated = True


def _dump(data: dict[str, Any]) -> str:
    return json.dumps(data, sort_keys=True, separators=(",", ":"))


def _digest(sid: str) -> str:
    return hashlib.sha256(sid.encode()).hexdigest()


class SessionStore:
    """Sessions in the `sessions` table, cookies signed with the website's secret."""

    def __init__(self, engine_source: Any, secret: str) -> None:
        # engine_source: the app's state; the engine exists only once the lifespan ran.
        self._state = engine_source
        self._key = hashlib.sha256(b"staysaga-web-session:" + secret.encode()).digest()
        self.csrf_key = hashlib.sha256(b"staysaga-web-csrf:" + secret.encode()).digest()

    @property
    def engine(self) -> AsyncEngine:
        """The website's database engine."""
        return cast(AsyncEngine, self._state.engine)

    def sign(self, sid: str) -> str:
        """The cookie value for a session id."""
        mac = hmac.new(self._key, sid.encode(), hashlib.sha256).digest()
        return f"{sid}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"

    def unsign(self, cookie: str) -> str | None:
        """The session id of a cookie, or None if its signature does not hold."""
        sid, _, _mac = cookie.rpartition(".")
        if not sid or len(cookie) > 200:
            return None
        # As bytes: compare_digest refuses (TypeError) a str that is not ASCII.
        return sid if hmac.compare_digest(self.sign(sid).encode(), cookie.encode()) else None

    async def load(self, cookie: str | None) -> Session:
        """The session a cookie names, or a new empty one."""
        sid = self.unsign(cookie) if cookie else None
        if sid is None:
            return Session()
        now = datetime.now(UTC)
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(
                    select(sessions.c.data).where(
                        sessions.c.id == _digest(sid), sessions.c.expires_at > now
                    )
                )
            ).first()
        if row is None:
            return Session()
        return Session(sid, json.loads(row.data))

    async def save(self, session: Session) -> str | None:
        """Persist a changed session; return the new cookie value when one must be set."""
        if session.invalidated:
            if session.sid:
                await self._delete(session.sid)
            return None
        data = _dump(session)
        if data == session.snapshot and not session.rotate_requested:
            return None
        if not session and session.sid is None:
            return None
        now = datetime.now(UTC)
        expires = now + SESSION_LIFETIME
        async with self.engine.begin() as conn:
            if session.sid and not session.rotate_requested:
                await conn.execute(
                    update(sessions)
                    .where(sessions.c.id == _digest(session.sid))
                    .values(data=data, expires_at=expires)
                )
                return None
            if session.sid:
                await conn.execute(delete(sessions).where(sessions.c.id == _digest(session.sid)))
            else:
                # New visitors are rare next to page views: sweep expired rows now and then.
                await conn.execute(delete(sessions).where(sessions.c.expires_at < now))
            sid = secrets.token_urlsafe(32)
            await conn.execute(
                insert(sessions).values(
                    id=_digest(sid), data=data, created_at=now, expires_at=expires
                )
            )
        session.sid = sid
        session.snapshot = data
        session.rotate_requested = False
        return self.sign(sid)

    async def _delete(self, sid: str) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(delete(sessions).where(sessions.c.id == _digest(sid)))


class SessionMiddleware:
    """Loads `request.session` from the store and saves it as the response starts."""

    def __init__(self, app: ASGIApp, store: SessionStore, secure: bool) -> None:
        self.app = app
        self.store = store
        self.secure = secure

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(("/static/", "/healthz", "/readyz")):
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        session = await self.store.load(request.cookies.get(COOKIE_NAME))
        scope["session"] = session
        scope[_CSRF_SCOPE] = CsrfNonce(request.cookies.get(CSRF_COOKIE), self.store.csrf_key)
        secure = self.secure or scope.get("scheme") == "https"

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                had_cookie = session.sid is not None
                cookie = await self.store.save(session)
                if cookie is not None:
                    headers.append("set-cookie", self._cookie(cookie, secure))
                elif session.invalidated and had_cookie:
                    headers.append("set-cookie", self._cookie("", secure, max_age=0))
                nonce: CsrfNonce = scope[_CSRF_SCOPE]
                if nonce.created:
                    headers.append(
                        "set-cookie", self._cookie(nonce.value, secure, name=CSRF_COOKIE)
                    )
                headers.setdefault("cache-control", "no-store")
            await send(message)

        await self.app(scope, receive, send_with_cookie)

    def _cookie(
        self, value: str, secure: bool, max_age: int | None = None, name: str = COOKIE_NAME
    ) -> str:
        age = int(SESSION_LIFETIME.total_seconds()) if max_age is None else max_age
        parts = [f"{name}={value}", "Path=/", "HttpOnly", "SameSite=Lax", f"Max-Age={age}"]
        if secure:
            parts.append("Secure")
        return "; ".join(parts)


class CsrfNonce:
    """The visitor's CSRF nonce cookie, and the token a form of theirs carries with it."""

    def __init__(self, cookie: str | None, key: bytes) -> None:
        self._key = key
        valid = bool(cookie) and len(str(cookie)) <= 64 and str(cookie).isascii()
        self.value = str(cookie) if valid else ""
        self.created = False

    def _mac(self, nonce: str) -> str:
        return hmac.new(self._key, nonce.encode(), hashlib.sha256).hexdigest()

    def token(self) -> str:
        """The form token; makes the nonce (set as a cookie with the response) if missing."""
        if not self.value:
            self.value = secrets.token_urlsafe(32)
            self.created = True
        return self._mac(self.value)

    def accepts(self, submitted: str) -> bool:
        """Whether `submitted` is the MAC of the nonce the browser sent."""
        return bool(self.value) and hmac.compare_digest(self._mac(self.value), submitted)


_CSRF_SCOPE = "staysaga.csrf"


def csrf_token(request: Request) -> str:
    """The CSRF token for a form on this page: the stored session's own, or for a visitor
    without one, the MAC of their nonce cookie (so no row is written)."""
    session: Session = request.session  # type: ignore[assignment]
    token = session.get(_CSRF_KEY)
    if token:
        return str(token)
    if session.sid is not None:
        token = secrets.token_urlsafe(32)
        session[_CSRF_KEY] = token
        return token
    nonce: CsrfNonce = request.scope[_CSRF_SCOPE]
    return nonce.token()


def csrf_ok(request: Request, submitted: Any) -> bool:
    """Whether a submitted form carries this session's CSRF token, or the MAC of the
    visitor's nonce (a form opened before signing in)."""
    if not isinstance(submitted, str) or not submitted:
        return False
    expected = request.session.get(_CSRF_KEY)
    if expected and hmac.compare_digest(str(expected).encode(), submitted.encode()):
        return True
    nonce: CsrfNonce = request.scope[_CSRF_SCOPE]
    return nonce.accepts(submitted)
