"""The mail sink's one client: every reader of the received mail goes through
`MailsinkClient`.

The sink is a development tool open to whoever can reach it: no token. A refusal is raised
as `ServiceError` with its problem document; no answer at all as `TransportError`.
"""

from __future__ import annotations

from services.common.client import TypedClient
from services.mailsink import api


class MailsinkClient(TypedClient):
    """The mail sink's routes, one typed method each."""

    async def messages(self, query: api.MessageQuery) -> api.MessageList:
        """Received messages, newest first, optionally only those sent to one address."""
        reply = await self._send("GET", api.MESSAGES_PATH, None, query=query)
        return api.MessageList.model_validate_json(reply)

    async def message(self, message_id: int) -> api.MessageDetail:
        """A message parsed back into headers, bodies and attachments."""
        reply = await self._send("GET", api.message_path(message_id), None)
        return api.MessageDetail.model_validate_json(reply)

    async def attachment(self, message_id: int, index: int) -> bytes:
        """An attachment's bytes, as sent (numbered from 0)."""
        return await self._send("GET", api.attachment_path(message_id, index), None)

    async def raw(self, message_id: int) -> bytes:
        """The message's source."""
        return await self._send("GET", api.raw_path(message_id), None)
