"""The mail sink's own settings."""

from __future__ import annotations

from dataclasses import dataclass

from services.common.parsers import port
from services.common.settings import SettingsGroup, variable


@dataclass(frozen=True, kw_only=True)
class MailsinkSettings(SettingsGroup):
    """Where the local mail sink takes SMTP (the default relay of outgoing mail)."""

    smtp_port: int = variable(
        "MAILSINK_SMTP_PORT", "1025", "SMTP port of the local mail sink", port
    )
