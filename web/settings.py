"""The website's own settings."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from services.common.settings import SettingsGroup, variable


def _secret() -> str:
    return secrets.token_urlsafe(32)


@dataclass(frozen=True, kw_only=True)
class WebSettings(SettingsGroup):
    """The key of the website's session cookie."""

    session_secret: str | None = variable(
        "WEB_SESSION_SECRET",
        None,
        "key signing the website's session cookie (unset: a random one per process)",
        generate=_secret,
    )
