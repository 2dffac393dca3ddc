"""The sink's SMTP side: aiosmtpd on the app's own event loop, storing what it receives."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session
from sqlalchemy.ext.asyncio import AsyncEngine

from services.mailsink.domain import save

log = logging.getLogger("staysaga.mailsink")

# A local development tool: never reachable from another machine, whatever STAYSAGA_HOST says.
SMTP_BIND_HOST = "127.0.0.1"
MAX_MESSAGE_BYTES = 25 * 1024 * 1024


class StoringHandler:
    """aiosmtpd handler: every accepted message goes to the sink's database."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def handle_DATA(  # noqa: N802 - the name aiosmtpd calls
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        """Store the message; answer 250 once it is committed."""
        content = envelope.original_content or envelope.content or b""
        raw = content if isinstance(content, bytes) else content.encode()
        message_id = await save(self.engine, envelope.mail_from or "", list(envelope.rcpt_tos), raw)
        log.info(
            "received a message",
            extra={"message_id": message_id, "recipients": len(envelope.rcpt_tos)},
        )
        return "250 Message accepted for delivery"


async def start_smtp(engine: AsyncEngine, port: int) -> asyncio.Server:
    """Listen for SMTP on 127.0.0.1:`port` within the running loop."""
    handler = StoringHandler(engine)

    def factory() -> Any:
        return SMTP(
            handler,
            hostname="mailsink.staysaga.local",
            data_size_limit=MAX_MESSAGE_BYTES,
            enable_SMTPUTF8=True,
            decode_data=False,
            ident="staysaga mail sink",
        )

    loop = asyncio.get_running_loop()
    return await loop.create_server(factory, host=SMTP_BIND_HOST, port=port)
