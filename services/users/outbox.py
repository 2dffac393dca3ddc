"""The transactional outbox and its courier: e-mails that reach SMTP even after an outage.

Whatever causes an e-mail (a sign-up, a reset request, a saga's notification) writes the
rendered message into `outbox` in the same transaction as its own change, so the two
commit or vanish together. The courier, a task started with the app, hands due messages
to the SMTP relay; a refusal or an unreachable relay only pushes the next attempt back
(exponential, capped at MAIL_RETRY_MAX_SECONDS). Several copies of the service may run:
a copy claims a message with a conditional UPDATE of `next_attempt_at` (a lease), so only
one sends it at a time. Delivery is at least once (a crash after SMTP accepted but before
the row says so resends it); the Message-ID, derived from the message key, is the same
every time, so a mail client or a reader sees it as the same message.
"""

from __future__ import annotations

import asyncio
import logging
import random
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from services.common.db import as_utc
from services.common.mail import Attachment, MailError, SmtpConfig, build_message, send_message
from services.users import api
from services.users.mails import Rendered
from services.users.tables import outbox, outbox_attachments

log = logging.getLogger("staysaga.users.outbox")

PENDING = "pending"
SENT = "sent"
LEASE_SECONDS = 120.0
FIRST_RETRY_SECONDS = 0.5
IDLE_POLL_SECONDS = 5.0
STOP_GRACE_SECONDS = 5.0
BATCH = 20


def status_of(row: Any) -> api.MessageStatus:
    """The public view of an outbox row."""
    return api.MessageStatus(
        message_id=row.id,
        message_key=row.message_key,
        status=row.status,
        attempts=row.attempts,
        created_at=as_utc(row.created_at),
        sent_at=None if row.sent_at is None else as_utc(row.sent_at),
    )


async def enqueue(
    conn: AsyncConnection,
    *,
    message_key: str,
    user_id: str,
    template: str,
    to: str,
    mail: Rendered,
    attachments: Sequence[Attachment] = (),
) -> str:
    """Write a message into the outbox, in the caller's transaction; returns its id."""
    message_id = uuid.uuid4().hex
    now = datetime.now(UTC)
    await conn.execute(
        outbox.insert().values(
            id=message_id,
            message_key=message_key,
            user_id=user_id,
            template=template,
            to_address=to,
            subject=mail.subject,
            text_body=mail.text,
            html_body=mail.html,
            status=PENDING,
            attempts=0,
            next_attempt_at=now,
            created_at=now,
        )
    )
    if attachments:
        await conn.execute(
            outbox_attachments.insert(),
            [
                {
                    "message_id": message_id,
                    "position": position,
                    "filename": a.filename,
                    "content_type": a.content_type,
                    "content": a.content,
                }
                for position, a in enumerate(attachments)
            ],
        )
    return message_id


_STATUS_COLUMNS = (
    outbox.c.id,
    outbox.c.message_key,
    outbox.c.user_id,
    outbox.c.status,
    outbox.c.attempts,
    outbox.c.created_at,
    outbox.c.sent_at,
)


async def find(conn: AsyncConnection, *, key: str | None = None, id: str | None = None) -> Any:
    """An outbox row's status columns by message key or id, or None."""
    condition = outbox.c.message_key == key if key is not None else outbox.c.id == id
    return (await conn.execute(sa.select(*_STATUS_COLUMNS).where(condition))).first()


def backoff(attempts: int, cap: float) -> float:
    """Seconds before the next attempt after `attempts` failures (exponential, jittered)."""
    delay = min(cap, FIRST_RETRY_SECONDS * 2 ** max(attempts - 1, 0))
    return float(delay * random.uniform(0.8, 1.0))


class Courier:
    """Hands due outbox messages to the SMTP relay until it accepts them."""

    def __init__(
        self, engine: AsyncEngine, smtp: SmtpConfig, sender: str, max_backoff: float
    ) -> None:
        self.engine = engine
        self.smtp = smtp
        self.sender = sender
        self.max_backoff = max_backoff
        self._woken = False
        self._stopping = False
        self._waiter: asyncio.Future[None] | None = None
        self._task: asyncio.Task[None] | None = None

    def wake(self) -> None:
        """Something was enqueued: look now rather than at the next poll."""
        self._woken = True
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    async def _pause(self, seconds: float) -> None:
        # A bare future and a timer rather than wait_for(Event.wait()): nothing nested to
        # cancel when the app stops.
        if self._woken or self._stopping:
            self._woken = False
            return
        loop = asyncio.get_running_loop()
        waiter = self._waiter = loop.create_future()

        def wake() -> None:
            if not waiter.done():
                waiter.set_result(None)

        timer = loop.call_later(seconds, wake)
        try:
            await waiter
        finally:
            timer.cancel()
            self._waiter = None
            self._woken = False

    def start(self) -> None:
        """Run the delivery loop in the background."""
        self._task = asyncio.create_task(self._run(), name="outbox-courier")

    async def stop(self) -> None:
        """Stop the loop after the current message; cancel it if that takes too long
        (a message cut off mid-send is resent later, once its lease runs out)."""
        self._stopping = True
        self.wake()
        if self._task is None:
            return
        done, _ = await asyncio.wait({self._task}, timeout=STOP_GRACE_SECONDS)
        if not done:
            self._task.cancel()
            # Not awaited without a bound: a library deep in a send may swallow the
            # cancellation, and the loop then ends by itself at its next check.
            await asyncio.wait({self._task}, timeout=STOP_GRACE_SECONDS)

    async def _run(self) -> None:
        while not self._stopping:
            self._woken = False
            try:
                await self.deliver_due()
                wait = await self._seconds_to_next()
            except Exception:
                log.exception("outbox pass failed; trying again shortly")
                wait = IDLE_POLL_SECONDS
            await self._pause(wait)

    async def _seconds_to_next(self) -> float:
        async with self.engine.connect() as conn:
            due = await conn.scalar(
                sa.select(sa.func.min(outbox.c.next_attempt_at)).where(outbox.c.status == PENDING)
            )
        if due is None:
            return IDLE_POLL_SECONDS
        seconds = (as_utc(due) - datetime.now(UTC)).total_seconds()
        return min(max(seconds, 0.05), IDLE_POLL_SECONDS)

    async def deliver_due(self) -> int:
        """Send every message due now; returns how many SMTP accepted."""
        now = datetime.now(UTC)
        async with self.engine.connect() as conn:
            due = (
                (
                    await conn.execute(
                        sa.select(outbox.c.id)
                        .where(outbox.c.status == PENDING, outbox.c.next_attempt_at <= now)
                        .order_by(outbox.c.next_attempt_at)
                        .limit(BATCH)
                    )
                )
                .scalars()
                .all()
            )
        sent = 0
        for message_id in due:
            if await self._claim(message_id) and await self._send(message_id):
                sent += 1
        return sent

    async def _claim(self, message_id: str) -> bool:
        now = datetime.now(UTC)
        async with self.engine.begin() as conn:
            result = await conn.execute(
                outbox.update()
                .where(
                    outbox.c.id == message_id,
                    outbox.c.status == PENDING,
                    outbox.c.next_attempt_at <= now,
                )
                .values(
                    next_attempt_at=now + timedelta(seconds=LEASE_SECONDS),
                    attempts=outbox.c.attempts + 1,
                )
            )
        return result.rowcount == 1

    async def _send(self, message_id: str) -> bool:
        async with self.engine.connect() as conn:
            row = (await conn.execute(sa.select(outbox).where(outbox.c.id == message_id))).one()
            files = (
                await conn.execute(
                    sa.select(outbox_attachments)
                    .where(outbox_attachments.c.message_id == message_id)
                    .order_by(outbox_attachments.c.position)
                )
            ).all()
        message = build_message(
            sender=self.sender,
            to=row.to_address,
            subject=row.subject,
            text=row.text_body,
            html=row.html_body,
            message_key=row.message_key,
            attachments=[Attachment(f.filename, f.content, f.content_type) for f in files],
        )
        try:
            await send_message(self.smtp, message)
        except MailError as exc:
            delay = backoff(row.attempts, self.max_backoff)
            async with self.engine.begin() as conn:
                await conn.execute(
                    outbox.update()
                    .where(outbox.c.id == message_id, outbox.c.status == PENDING)
                    .values(
                        next_attempt_at=datetime.now(UTC) + timedelta(seconds=delay),
                        last_error=str(exc)[:500],
                    )
                )
            log.warning(
                "SMTP did not take a message; retrying in %.1f s",
                delay,
                extra={"outbox_id": message_id, "attempts": row.attempts, "error": str(exc)},
            )
            return False
        async with self.engine.begin() as conn:
            await conn.execute(
                outbox.update()
                .where(outbox.c.id == message_id)
                .values(status=SENT, sent_at=datetime.now(UTC), last_error=None)
            )
        log.info(
            "e-mail handed to SMTP",
            extra={"outbox_id": message_id, "template": row.template, "attempts": row.attempts},
        )
        return True
