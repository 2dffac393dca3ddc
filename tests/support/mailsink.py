"""A mail sink running in the test's event loop, and polling its JSON API for messages."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from services.common.http import HttpxTransport, ServiceConnection
from services.mailsink.api import MessageQuery
from services.mailsink.app import create_app
from services.mailsink.client import MailsinkClient
from tests.support.harness import eventually, free_port, running_app, settings_for


async def _no_tokens(_audience: str, _scopes: str) -> tuple[str, float]:
    raise AssertionError("the mail sink takes no token")


@dataclass
class Sink:
    """A running sink: its HTTP client (JSON API) and the SMTP port it listens on."""

    http: httpx.AsyncClient
    smtp_port: int

    @property
    def client(self) -> MailsinkClient:
        """The sink's typed client, over the in-process HTTP client."""
        service = ServiceConnection(
            "mailsink", str(self.http.base_url), _no_tokens, HttpxTransport(self.http)
        )
        return MailsinkClient(service)

    async def messages(self, to: str | None = None) -> list[dict[str, Any]]:
        """Summaries of the messages received so far, newest first."""
        found = await self.client.messages(MessageQuery(to=to))
        return [m.model_dump(mode="json") for m in found.items]

    async def wait_for(self, to: str, count: int = 1, timeout: float = 30.0) -> list[dict]:
        """Poll until `to` has at least `count` messages; their details, oldest first."""

        async def arrived() -> list[dict[str, Any]]:
            found = await self.messages(to)
            assert len(found) >= count, f"{len(found)} of {count} messages for {to}"
            return found

        summaries = await eventually(arrived, timeout=timeout)
        details = []
        for summary in reversed(summaries):
            details.append((await self.client.message(summary["id"])).model_dump(mode="json"))
        return details


@contextlib.asynccontextmanager
async def running_sink(var_dir: Path, smtp_port: int | None = None) -> AsyncIterator[Sink]:
    """Start a sink (SMTP on `smtp_port`, or a free port) for the duration of the block."""
    port = smtp_port or free_port()
    settings = settings_for(var_dir, {"MAILSINK_SMTP_PORT": str(port)})
    async with running_app(create_app(settings)) as client:
        yield Sink(client, port)
