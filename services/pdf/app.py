"""The PDF service's routes: render a document once per key, fetch it as a PDF."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from components.settings import load_settings
from services.common.app import create_service_app, model_response
from services.common.auth import ensure_owner, principal
from services.common.openapi import Endpoint
from services.common.problems import not_found, parse_body
from services.common.settings import Settings
from services.pdf import api, domain

_ID_LENGTH = 32


async def create_document(request: Request) -> JSONResponse:
    """POST /documents: render (201) or return the document already made for the key (200)."""
    body = await parse_body(api.RenderRequest, request)
    outcome = await domain.render_document(
        request.app.state.engine, request.app.state.render_pool, body
    )
    status = 201 if outcome.created else 200
    response = model_response(outcome.document, status=status)
    response.headers["Location"] = api.document_path(outcome.document.id)
    return response


async def get_document(request: Request) -> Response:
    """GET /documents/{id}: the PDF, for its owner or a service."""
    document_id = request.path_params["document_id"]
    found = None
    if len(document_id) == _ID_LENGTH and document_id.isalnum():
        found = await domain.get_document(request.app.state.engine, document_id)
    if found is None:
        raise not_found("document", document_id)
    meta, content = found
    ensure_owner(principal(request), meta.owner_id, "document", document_id)
    return Response(
        content,
        media_type="application/pdf",
        headers={
            "Content-Disposition": f'inline; filename="{meta.template}-{meta.id}.pdf"',
            "Cache-Control": "private, max-age=31536000, immutable",
        },
    )


ENDPOINTS = (
    Endpoint(
        "POST",
        api.DOCUMENTS_PATH,
        create_document,
        "Render a receipt or cancellation note (idempotent on `key`)",
        body=api.RenderRequest,
        response=api.Document,
        status=201,
        errors=(409, 422),
        scope=api.RENDER,
    ),
    Endpoint(
        "GET",
        api.DOCUMENT_PATH,
        get_document,
        "Download a document as application/pdf (a traveller: only their own)",
        errors=(404,),
        scope=api.READ,
    ),
)


async def _start_pool(app: Starlette) -> None:
    # Rendering is CPU work: a small pool keeps it off the event loop.
    app.state.render_pool = ThreadPoolExecutor(
        max_workers=min(4, os.cpu_count() or 1), thread_name_prefix="render"
    )


async def _stop_pool(app: Starlette) -> None:
    app.state.render_pool.shutdown(wait=True)


def create_app(settings: Settings | None = None) -> Starlette:
    """The PDF reporting ASGI app."""
    return create_service_app(
        "pdf",
        settings or load_settings(),
        ENDPOINTS,
        title="staysaga PDF reporting",
        migrations="services.pdf.migrations",
        on_startup=[_start_pool],
        on_shutdown=[_stop_pool],
    )
