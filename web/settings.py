"""The website's own settings."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from services.common.parsers import counter_storage, positive_float, positive_int
from services.common.settings import SettingsGroup, variable


def _secret() -> str:
    return secrets.token_urlsafe(32)


@dataclass(frozen=True, kw_only=True)
class WebSettings(SettingsGroup):
    """The key of the website's session cookie, and its rate limits."""

    session_secret: str | None = variable(
        "WEB_SESSION_SECRET",
        None,
        "key signing the website's session cookie (unset: a random one per process)",
        generate=_secret,
    )
    rate_limit_storage: str = variable(
        "WEB_RATE_LIMIT_STORAGE",
        "memory://",
        "where the website counts requests against its rate limits: memory:// (each copy "
        "on its own) or a redis:// URL shared by every copy",
        counter_storage,
    )
    rate_limit_scale: float = variable(
        "WEB_RATE_LIMIT_SCALE",
        "1",
        "every rate limit of the website (docs/OPERATIONS.md) times this: 10 lets a shared "
        "address sign up ten times as often",
        positive_float,
    )
    max_open_streams: int = variable(
        "WEB_MAX_OPEN_STREAMS",
        "4",
        "progress streams one session may hold open at once (over every copy when "
        "WEB_RATE_LIMIT_STORAGE is Redis, else per copy)",
        positive_int,
    )
