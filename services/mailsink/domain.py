"""Keeping received messages and reading them back, parsed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from services.common.db import as_utc
from services.mailsink import api
from services.mailsink.tables import messages, recipients

_PARSER = BytesParser(policy=policy.default)


def parse(raw: bytes) -> EmailMessage:
    """A stored message as an EmailMessage (modern policy: decoded headers).

    SMTP carries lines ending in CRLF; they are read back with Python's own line ends.
    """
    parsed = _PARSER.parsebytes(raw.replace(b"\r\n", b"\n"))
    assert isinstance(parsed, EmailMessage)
    return parsed


async def save(engine: AsyncEngine, mail_from: str, rcpt_tos: list[str], raw: bytes) -> int:
    """Store a received message; returns its id."""
    parsed = parse(raw)
    async with engine.begin() as conn:
        result = await conn.execute(
            messages.insert().values(
                received_at=datetime.now(UTC),
                mail_from=mail_from[:320],
                subject=str(parsed.get("subject", ""))[:998],
                message_id=str(parsed.get("message-id", ""))[:998],
                raw=raw,
            )
        )
        message_id = result.inserted_primary_key[0]  # type: ignore[index]
        addresses = sorted({address.lower()[:320] for address in rcpt_tos})
        await conn.execute(
            recipients.insert(), [{"message_id": message_id, "address": a} for a in addresses]
        )
    return int(message_id)


async def _recipients(conn: Any, ids: list[int]) -> dict[int, list[str]]:
    found: dict[int, list[str]] = {i: [] for i in ids}
    if ids:
        rows = await conn.execute(
            sa.select(recipients).where(recipients.c.message_id.in_(ids)).order_by("address")
        )
        for row in rows:
            found[row.message_id].append(row.address)
    return found


def _summary(row: Any, to: list[str]) -> api.MessageSummary:
    return api.MessageSummary(
        id=row.id,
        received_at=as_utc(row.received_at),
        envelope_from=row.mail_from,
        envelope_to=to,
        subject=row.subject,
        message_id=row.message_id,
    )


async def list_messages(engine: AsyncEngine, to: str | None, limit: int) -> api.MessageList:
    """Messages newest first, optionally only those with `to` among the recipients."""
    query = sa.select(
        messages.c.id,
        messages.c.received_at,
        messages.c.mail_from,
        messages.c.subject,
        messages.c.message_id,
    )
    if to:
        query = query.where(
            messages.c.id.in_(
                sa.select(recipients.c.message_id).where(recipients.c.address == to.lower())
            )
        )
    async with engine.connect() as conn:
        rows = (await conn.execute(query.order_by(messages.c.id.desc()).limit(limit))).all()
        to_by_id = await _recipients(conn, [r.id for r in rows])
    return api.MessageList(items=[_summary(r, to_by_id[r.id]) for r in rows])


@dataclass(frozen=True)
class Stored:
    """A stored message with its summary and its parsed form."""

    summary: api.MessageSummary
    parsed: EmailMessage


async def get_message(engine: AsyncEngine, message_id: int) -> Stored | None:
    """One message, parsed; None if there is no such message."""
    async with engine.connect() as conn:
        row = (await conn.execute(sa.select(messages).where(messages.c.id == message_id))).first()
        if row is None:
            return None
        to = (await _recipients(conn, [row.id]))[row.id]
    return Stored(_summary(row, to), parse(row.raw))


def attachments(parsed: EmailMessage) -> list[EmailMessage]:
    """The message's attachments, in order."""
    return [part for part in parsed.iter_attachments() if isinstance(part, EmailMessage)]


def _body(parsed: EmailMessage, subtype: str) -> str | None:
    part = parsed.get_body(preferencelist=(subtype,))
    if part is None or part.get_content_type() != f"text/{subtype}":
        return None
    return str(part.get_content())


def detail(stored: Stored, base_path: str) -> api.MessageDetail:
    """The JSON view of a message: headers, bodies, attachment list with their URLs."""
    parsed = stored.parsed
    pairs = [(name, str(value)) for name, value in parsed.items()]
    headers: dict[str, str] = {}
    for name, value in pairs:
        headers.setdefault(name.lower(), value)
    files = [
        api.AttachmentInfo(
            index=index,
            filename=part.get_filename(),
            content_type=part.get_content_type(),
            size=len(part.get_payload(decode=True) or b""),
            url=f"{base_path}/attachments/{index}",
        )
        for index, part in enumerate(attachments(parsed))
    ]
    return api.MessageDetail(
        **stored.summary.model_dump(),
        headers=headers,
        all_headers=pairs,
        sender=headers.get("from", ""),
        recipients=headers.get("to", ""),
        text=_body(parsed, "plain"),
        html=_body(parsed, "html"),
        attachments=files,
    )
