"""The mail sink's JSON API: received messages, parsed back into headers, bodies, files."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


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
