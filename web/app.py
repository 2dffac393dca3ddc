"""The booking website: its routes, its error pages and `create_app(settings)`."""

from __future__ import annotations

import asyncio
import logging
import secrets
from pathlib import Path

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from components.settings import load_settings
from services.common.app import create_service_app
from services.common.ratelimit import storage_for
from services.common.settings import Settings
from web.backends import Backends
from web.oauth import OAuthClient
from web.pages import account, booking, ops, search
from web.pages.booking import SSE_MAX_SECONDS
from web.pages.common import (
    error_page,
    page_templates,
)
from web.ratelimits import RateLimiter, RateLimitMiddleware
from web.security import SecurityHeadersMiddleware
from web.sessions import SessionMiddleware, SessionStore
from web.settings import WebSettings
from web.streams import stream_slots

log = logging.getLogger("staysaga.web")

HERE = Path(__file__).parent


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if "session" not in request.scope:
        return Response(exc.detail, status_code=exc.status_code)
    return error_page(request, exc.status_code, str(exc.detail))


async def _unexpected(request: Request, exc: Exception) -> Response:
    log.exception("unexpected error", exc_info=exc)
    if "session" not in request.scope:
        return Response("Something went wrong.", status_code=500)
    return error_page(request, 500, "Something went wrong", "Please try again.")


ROUTES = [
    Route("/", search.home, methods=["GET"]),
    Route("/api/cities", search.city_suggestions, methods=["GET"]),
    Route("/search", search.results, methods=["GET"]),
    Route("/hotels/{hotel_id:int}", search.hotel_page, methods=["GET"]),
    Route("/auth/login", account.login, methods=["GET"]),
    Route("/auth/callback", account.callback, methods=["GET"]),
    Route("/auth/logout", account.logout, methods=["POST"]),
    Route("/signup", account.signup, methods=["GET", "POST"]),
    Route("/account/verify-email", account.verify_email, methods=["GET"]),
    Route("/account/verify-email/resend", account.resend_verification, methods=["POST"]),
    Route("/account/forgot-password", account.forgot_password, methods=["GET", "POST"]),
    Route("/account/reset-password", account.reset_password, methods=["GET", "POST"]),
    Route("/book", booking.book, methods=["GET", "POST"]),
    Route("/bookings", booking.my_bookings, methods=["GET"]),
    Route("/bookings/{booking_id}", booking.booking_page, methods=["GET"]),
    Route("/bookings/{booking_id}/checkout", booking.checkout, methods=["GET", "POST"]),
    Route("/bookings/{booking_id}/release", booking.release, methods=["POST"]),
    Route("/bookings/{booking_id}/events", booking.booking_events, methods=["GET"]),
    Route("/bookings/{booking_id}/receipt", booking.receipt, methods=["GET"]),
    Route("/bookings/{booking_id}/cancellation-note", booking.cancellation_note, methods=["GET"]),
    Route("/bookings/{booking_id}/cancel", booking.cancel, methods=["GET", "POST"]),
    Route("/ops", ops.bookings_list, methods=["GET"]),
    Route("/ops/bookings/{booking_id}", ops.booking_detail, methods=["GET"]),
    # GET too: an operator's GET goes back to the booking, anyone else's is a 404 (not 405).
    Route("/ops/bookings/{booking_id}/cancel", ops.cancel, methods=["GET", "POST"]),
    Route("/ops/bookings/{booking_id}/resend", ops.resend, methods=["GET", "POST"]),
    Mount("/static", StaticFiles(directory=str(HERE / "static")), name="static"),
]


def create_app(settings: Settings | None = None) -> Starlette:
    """The website's ASGI app. `app.state.backends`, `.oauth`, `.temporal` may be replaced."""
    settings = settings or load_settings()
    secret = settings.of(WebSettings).session_secret
    if not secret:
        log.warning("WEB_SESSION_SECRET is not set: sessions end when this process does")
        secret = secrets.token_urlsafe(32)

    async def close(app: Starlette) -> None:
        for http in {app.state.backends.http, app.state.oauth.http}:
            await http.aclose()
        await app.state.rate_limiter.streams.aclose()

    app = create_service_app(
        "web",
        settings,
        (),
        title="staysaga website",
        migrations="web.migrations",
        on_shutdown=(close,),
        extra_routes=ROUTES,
    )
    app.state.templates = page_templates()
    app.state.backends = Backends.create(settings)
    app.state.oauth = OAuthClient(settings, app.state.backends.http)
    app.state.temporal = None  # connected on first use (web.bookings.temporal)
    app.state.temporal_lock = asyncio.Lock()
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
    secure = settings.url("web").startswith("https://")
    # Inside the sessions: the limits count per session and account too.
    web = settings.of(WebSettings)
    # A stream's slot outlives the longest stream a little, in case its copy dies.
    streams = stream_slots(web.rate_limit_storage, web.max_open_streams, SSE_MAX_SECONDS + 60)
    limiter = RateLimiter(
        storage_for(web.rate_limit_storage), scale=web.rate_limit_scale, streams=streams
    )
    app.state.rate_limiter = limiter
    app.add_middleware(RateLimitMiddleware, limiter=limiter)
    app.add_middleware(SessionMiddleware, store=SessionStore(app.state, secret), secure=secure)
    app.add_middleware(SecurityHeadersMiddleware, auth_url=settings.url("auth"))
    return app
