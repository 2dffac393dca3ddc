"""The mail sink's routes: the inbox page for people, a JSON API for tests and tools.

No tokens here: it is a local development tool, and listens on 127.0.0.1 only.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path

import jinja2
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from components.settings import load_settings
from services.common.app import create_service_app, model_response
from services.common.openapi import Endpoint
from services.common.parsers import whole_number
from services.common.problems import ValidationProblem, not_found, parse_query
from services.common.settings import Settings
from services.mailsink import api, domain
from services.mailsink.settings import MailsinkSettings
from services.mailsink.smtp import start_smtp

log = logging.getLogger("staysaga.mailsink")
SMTP_CLOSE_GRACE_SECONDS = 2.0

_TEMPLATES = jinja2.Environment(
    loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
)


def _int_param(request: Request, name: str) -> int:
    try:
        return whole_number(request.path_params[name])
    except ValueError:
        raise ValidationProblem(
            [{"field": name, "message": "must be a whole number"}], status=400
        ) from None


async def _stored(request: Request) -> domain.Stored:
    message_id = _int_param(request, "message_id")
    found = await domain.get_message(request.app.state.engine, message_id)
    if found is None:
        raise not_found("message", message_id)
    return found


async def list_messages(request: Request) -> JSONResponse:
    """GET /api/messages?to=: received messages, newest first."""
    query = parse_query(api.MessageQuery, request)
    return model_response(
        await domain.list_messages(request.app.state.engine, query.to, query.limit)
    )


async def show_message(request: Request) -> JSONResponse:
    """GET /api/messages/{id}: one message parsed into headers, bodies and attachments."""
    stored = await _stored(request)
    return model_response(domain.detail(stored, api.message_path(stored.summary.id)))


async def get_attachment(request: Request) -> Response:
    """GET /api/messages/{id}/attachments/{n}: the n-th attachment (from 0), as sent."""
    stored = await _stored(request)
    index = _int_param(request, "index")
    parts = domain.attachments(stored.parsed)
    if index >= len(parts):
        raise not_found("attachment", index)
    part = parts[index]
    filename = (part.get_filename() or f"attachment-{index}").replace('"', "")
    return Response(
        part.get_payload(decode=True) or b"",
        media_type=part.get_content_type(),
        headers={"Content-Disposition": f'inline; filename="{filename}"'},
    )


async def get_raw(request: Request) -> Response:
    """GET /api/messages/{id}/raw: the message source (with Unix line ends)."""
    stored = await _stored(request)
    return Response(stored.parsed.as_bytes(), media_type="message/rfc822")


async def inbox_page(request: Request) -> HTMLResponse:
    """GET /: the inbox, newest first."""
    listed = await domain.list_messages(request.app.state.engine, None, 200)
    return HTMLResponse(_TEMPLATES.get_template("inbox.html").render(messages=listed.items))


async def message_page(request: Request) -> HTMLResponse:
    """GET /messages/{id}: one message for a person to read, with its attachments."""
    stored = await _stored(request)
    message = domain.detail(stored, api.message_path(stored.summary.id))
    return HTMLResponse(_TEMPLATES.get_template("message.html").render(message=message))


ENDPOINTS = (
    Endpoint(
        "GET",
        api.MESSAGES_PATH,
        list_messages,
        "List received messages, newest first (filter by recipient with ?to=)",
        query=api.MessageQuery,
        response=api.MessageList,
        errors=(400,),
    ),
    Endpoint(
        "GET",
        api.MESSAGE_PATH,
        show_message,
        "Show a message: headers, text and HTML bodies, attachments",
        response=api.MessageDetail,
        errors=(400, 404),
    ),
    Endpoint(
        "GET",
        api.ATTACHMENT_PATH,
        get_attachment,
        "Download an attachment (numbered from 0) with its own content type",
        errors=(400, 404),
    ),
    Endpoint(
        "GET",
        api.RAW_PATH,
        get_raw,
        "The message source (message/rfc822)",
        errors=(400, 404),
    ),
)


async def _start_smtp(app: Starlette) -> None:
    port = app.state.settings.of(MailsinkSettings).smtp_port
    app.state.smtp_server = await start_smtp(app.state.engine, port)
    log.info("SMTP listening on 127.0.0.1:%s", port)


async def _stop_smtp(app: Starlette) -> None:
    server = app.state.smtp_server
    server.close()
    # Since Python 3.11.5 this also waits for open client connections; a client that
    # never says QUIT must not keep the sink from stopping.
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(server.wait_closed(), SMTP_CLOSE_GRACE_SECONDS)


def create_app(settings: Settings | None = None) -> Starlette:
    """The mail sink ASGI app; its SMTP listener starts and stops with the app."""
    return create_service_app(
        "mailsink",
        settings or load_settings(),
        ENDPOINTS,
        title="staysaga mail sink",
        migrations="services.mailsink.migrations",
        on_startup=[_start_smtp],
        on_shutdown=[_stop_smtp],
        extra_routes=[
            Route("/", inbox_page, methods=["GET"]),
            Route("/messages/{message_id}", message_page, methods=["GET"]),
        ],
    )
