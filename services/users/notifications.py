"""E-mails about bookings, asked for by the saga: rendered, with PDFs attached, queued once."""

from __future__ import annotations

import logging
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from services.common.db import first_write_wins
from services.common.http import ServiceConnections, ServiceError, TransportError
from services.common.mail import Attachment
from services.common.problems import Problem, ValidationProblem, not_found
from services.pdf.client import PdfClient
from services.users import api, mails, outbox
from services.users.tables import users

log = logging.getLogger("staysaga.users.notifications")


def _key_reused() -> Problem:
    return Problem(
        409,
        "message-key-reused",
        "This message key belongs to another account's message.",
        field="message_key",
    )


async def _fetch_attachments(
    connections: ServiceConnections, refs: list[api.AttachmentRef]
) -> list[Attachment]:
    found = []
    for index, ref in enumerate(refs):
        try:
            document = await PdfClient(connections["pdf"]).download(ref.document_id)
        except ServiceError as exc:
            if exc.status == 404:
                raise ValidationProblem(
                    [
                        {
                            "field": f"attachments.{index}.document_id",
                            "message": "no such document",
                        }
                    ]
                ) from None
            raise _pdf_unavailable(str(exc)) from None
        except (TransportError, RuntimeError) as exc:
            raise _pdf_unavailable(f"{type(exc).__name__}: {exc}") from None
        found.append(Attachment(ref.filename, document.content, document.content_type))
    return found


def _pdf_unavailable(why: str) -> Problem:
    log.warning("cannot fetch an attachment from the PDF service: %s", why)
    return Problem(
        503,
        "pdf-unavailable",
        "The documents to attach cannot be fetched right now.",
        "Try again later.",
        headers={"Retry-After": "5"},
    )


async def notify(
    engine: AsyncEngine,
    connections: ServiceConnections,
    user_id: str,
    request: api.NotificationRequest,
    link_base: str = "",
) -> tuple[api.MessageStatus, bool]:
    """Queue a booking e-mail to the account's address; a repeated key returns the first.
    Its links point at `link_base` (the website).

    Returns the message's status and whether this call queued it.
    """
    async with engine.connect() as conn:
        existing = await outbox.find(conn, key=request.message_key)
        account = (
            await conn.execute(sa.select(users.c.email, users.c.name).where(users.c.id == user_id))
        ).first()
    if existing is not None:
        return _first_of_key(existing, user_id), False
    if account is None:
        raise not_found("user", user_id)
    context = mails.booking_context(request.template, request.data, link_base)
    mail = mails.render(request.template, {**context, "name": account.name, "email": account.email})
    attachments = await _fetch_attachments(connections, request.attachments)

    async def enqueue() -> api.MessageStatus:
        async with engine.begin() as conn:
            message_id = await outbox.enqueue(
                conn,
                message_key=request.message_key,
                user_id=user_id,
                template=request.template,
                to=account.email,
                mail=mail,
                attachments=attachments,
            )
        async with engine.connect() as conn:
            return outbox.status_of(await outbox.find(conn, id=message_id))

    async def replay() -> api.MessageStatus | None:
        async with engine.connect() as conn:
            existing = await outbox.find(conn, key=request.message_key)
        return None if existing is None else _first_of_key(existing, user_id)

    return await first_write_wins(enqueue, replay)


def _first_of_key(existing: Any, user_id: str) -> api.MessageStatus:
    """The status of the message first queued under a key, if it is this account's."""
    if existing.user_id != user_id:
        raise _key_reused()
    return outbox.status_of(existing)


async def message_status(engine: AsyncEngine, user_id: str, message_id: str) -> api.MessageStatus:
    """A queued message's status; 404 if it is not this account's."""
    async with engine.connect() as conn:
        row = await outbox.find(conn, id=message_id)
    if row is None or row.user_id != user_id:
        raise not_found("message", message_id)
    return outbox.status_of(row)
