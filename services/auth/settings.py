"""The authorization server's settings: how its clients find it, and its client secrets.

AUTH_ISSUER, AUTH_JWKS_URL and AUTH_TOKEN_URL are read by every process (to verify and to
get tokens); the component registry fills their defaults from AUTH_URL and Auth's paths.
"""

from __future__ import annotations

from dataclasses import dataclass

from services.common.parsers import counter_storage, positive_int
from services.common.settings import SettingsGroup, variable


@dataclass(frozen=True, kw_only=True)
class AuthSettings(SettingsGroup):
    """Where tokens come from, and (auth server only) every client's secret."""

    issuer: str | None = variable(
        "AUTH_ISSUER", None, "issuer of access tokens (default: AUTH_URL)"
    )
    jwks_url: str | None = variable(
        "AUTH_JWKS_URL", None, "where services fetch signing keys (default: issuer + JWKS path)"
    )
    token_url: str | None = variable(
        "AUTH_TOKEN_URL", None, "OAuth 2 token endpoint (default: AUTH_URL/oauth2/token)"
    )
    client_secrets: str | None = variable(
        "AUTH_CLIENT_SECRETS",
        None,
        "auth service only: JSON {client_id: secret} of every OAuth 2 client "
        "(`staysaga up` fills it from var/secrets.env)",
    )
    temporal_ui_callback: str | None = variable(
        "AUTH_TEMPORAL_UI_CALLBACK_URL",
        None,
        "auth service only: where the Temporal UI takes operators' sign-ins back "
        "(default: TEMPORAL_UI_URL + /auth/sso/callback)",
    )
    signin_throttle_storage: str = variable(
        "AUTH_SIGNIN_THROTTLE_STORAGE",
        "memory://",
        "auth service only: where failed sign-ins are counted: memory:// (each copy on its "
        "own) or a redis:// URL shared by every copy",
        counter_storage,
    )
    signin_failures_per_address: int = variable(
        "AUTH_SIGNIN_FAILURES_PER_ADDRESS",
        "100",
        "auth service only: wrong passwords an address may send in an hour, over every "
        "account, before its sign-ins wait (an address that failed none never waits)",
        positive_int,
    )
