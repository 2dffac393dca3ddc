"""The Users service's own settings: the links in its account e-mails."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from services.common.settings import SettingsGroup, variable


def _secret() -> str:
    return secrets.token_urlsafe(32)


@dataclass(frozen=True, kw_only=True)
class UsersSettings(SettingsGroup):
    """How e-mail verification and password reset links are signed and where they point."""

    link_secret: str | None = variable(
        "USERS_LINK_SECRET",
        None,
        "key signing e-mail verification and password reset links (unset: a random one "
        "per process, so links die with it)",
        generate=_secret,
    )
    link_base_url: str | None = variable(
        "USERS_LINK_BASE_URL",
        None,
        "where links in account e-mails point (default WEB_URL): <base>/account/verify-email"
        "?token=..., <base>/account/reset-password?token=...",
    )
