"""The one way staysaga sends e-mail: MIME messages handed to an SMTP relay by aiosmtplib.

It lives in `services/common/` because the relay's settings are global (SMTP_*, MAIL_FROM)
and any process that sends mail must build messages the same way (Message-ID derived from
a stable key, plain text plus HTML, attachments); today only the Users service sends.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formatdate

from services.common.settings import Settings

MESSAGE_ID_DOMAIN = "staysaga.local"
MESSAGE_KEY_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._=+-]{0,199}$"
_MESSAGE_KEY = re.compile(MESSAGE_KEY_PATTERN)


class MailError(Exception):
    """The relay did not accept a message (refused, unreachable, timed out)."""


@dataclass(frozen=True)
class SmtpConfig:
    """Where and how to reach the SMTP relay."""

    host: str
    port: int
    tls: bool = False
    starttls: bool = False
    username: str | None = None
    password: str | None = None
    timeout: float = 10.0

    @classmethod
    def from_settings(cls, settings: Settings) -> SmtpConfig:
        """SMTP_* settings; the port defaults to the local mail sink's."""
        return cls(
            host=settings.mail.smtp_host,
            port=settings.smtp_port,
            tls=settings.mail.smtp_tls,
            starttls=settings.mail.smtp_starttls,
            username=settings.mail.smtp_username,
            password=settings.mail.smtp_password,
        )


@dataclass(frozen=True)
class Attachment:
    """A file carried by a message."""

    filename: str
    content: bytes
    content_type: str = "application/pdf"


def message_id_for(key: str) -> str:
    """The Message-ID header derived from a message key, so a resend is recognisable."""
    if not _MESSAGE_KEY.match(key):
        raise ValueError(f"message key {key!r} does not match {MESSAGE_KEY_PATTERN}")
    return f"<{key}@{MESSAGE_ID_DOMAIN}>"


def build_message(
    *,
    sender: str,
    to: str,
    subject: str,
    text: str,
    html: str | None,
    message_key: str,
    attachments: tuple[Attachment, ...] | list[Attachment] = (),
) -> EmailMessage:
    """A MIME message: plain text, an HTML alternative, then the attachments."""
    message = EmailMessage()
    message["From"] = sender
    # One bare address, or nothing is sent: a display name or a list in `to` would be
    # someone else's words in our header.
    message["To"] = Address(addr_spec=to)
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=False, usegmt=True)
    message["Message-ID"] = message_id_for(message_key)
    message.set_content(text)
    if html is not None:
        message.add_alternative(html, subtype="html")
    for attachment in attachments:
        maintype, _, subtype = attachment.content_type.partition("/")
        message.add_attachment(
            attachment.content, maintype=maintype, subtype=subtype, filename=attachment.filename
        )
    return message


async def send_message(config: SmtpConfig, message: EmailMessage) -> None:
    """Hand a message to the relay; MailError if it is not accepted."""
    # Here, not at the top: the message-key pattern above is part of Users' contract, which
    # processes that never send mail load too.
    import aiosmtplib

    try:
        await aiosmtplib.send(
            message,
            hostname=config.host,
            port=config.port,
            use_tls=config.tls,
            start_tls=config.starttls,
            username=config.username,
            password=config.password,
            timeout=config.timeout,
        )
    except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
        raise MailError(f"{config.host}:{config.port}: {type(exc).__name__}: {exc}") from exc
