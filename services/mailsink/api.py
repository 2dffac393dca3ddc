"""The mail sink's JSON API: received messages, parsed back into headers, bodies, files."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

# Paths, as route templates; the functions below fill them in. Open to anyone who can
# reach the sink (a development tool): no scopes.
MESSAGES_PATH = "/api/messages"
MESSAGE_PATH = "/api/messages/{message_id}"
ATTACHMENT_PATH = "/api/messages/{message_id}/attachments/{index}"
RAW_PATH = "/api/messages/{message_id}/raw"


def message_path(message_id: int) -> str:
    """The path of a received message."""
    return MESSAGE_PATH.format(message_id=int(message_id))


def attachment_path(message_id: int, index: int) -> str:
    """The path of a message's attachment (numbered from 0)."""
    return ATTACHMENT_PATH.format(message_id=int(message_id), index=int(index))


def raw_path(message_id: int) -> str:
    """The path of a message's source."""
    return RAW_PATH.format(message_id=int(message_id))


class MessageQuery(BaseModel):
    """GET /api/messages: newest first, optionally only those sent to one address."""

    model_config = ConfigDict(extra="forbid")
    to: str | None = Field(None, max_length=320, description="envelope recipient (any case)")
    limit: int = Field(50, ge=1, le=500, description="how many messages")


class MessageSummary(BaseModel):
    """A received message in the list."""

    id: int
    received_at: datetime
    envelope_from: str
    envelope_to: list[str]
    subject: str
    message_id: str


class MessageList(BaseModel):
    """Received messages, newest first."""

    items: list[MessageSummary]


class AttachmentInfo(BaseModel):
    """A file attached to a message; fetch it at `url`."""

    index: int
    filename: str | None
    content_type: str
    size: int
    url: str


class MessageDetail(MessageSummary):
    """A message parsed back: every header, the text and HTML bodies, the attachments."""

    headers: dict[str, str] = Field(description="first value of each header, by lower-case name")
    all_headers: list[tuple[str, str]]
    sender: str = Field(description="the From header")
    recipients: str = Field(description="the To header")
    text: str | None
    html: str | None
    attachments: list[AttachmentInfo]
