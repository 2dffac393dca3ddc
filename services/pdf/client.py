"""The PDF service's one client: every caller of its routes goes through `PdfClient`.

Rendering takes a service token with the render scope. A download takes either a service
token (Users attaching a document to an e-mail) or, from the website, the traveller's own
access token, which reaches only their own documents. A refusal is raised as
`ServiceError` with the service's problem document; no answer at all as `TransportError`.
"""

from __future__ import annotations

from dataclasses import dataclass

from services.common.client import TypedClient, bearer
from services.pdf import api

PDF_TYPE = "application/pdf"


@dataclass(frozen=True)
class DocumentFile:
    """A downloaded document: its bytes and their content type."""

    content: bytes
    content_type: str


class PdfClient(TypedClient):
    """The PDF service's routes, one typed method each."""

    async def render(self, request: api.RenderRequest) -> api.Document:
        """Render a document (or find the one rendered under the same key)."""
        reply = await self._send("POST", api.DOCUMENTS_PATH, api.RENDER, request)
        return api.Document.model_validate_json(reply)

    async def download(self, document_id: str, access_token: str | None = None) -> DocumentFile:
        """A document's PDF: with the traveller's `access_token` if given, else with a
        service token."""
        path = api.document_path(document_id)
        headers = {"Accept": PDF_TYPE}
        if access_token is None:
            reply = await self._call("GET", path, api.READ, headers=headers)
        else:
            reply = await self._call("GET", path, None, headers=headers | bearer(access_token))
        content_type = reply.headers.get("content-type", PDF_TYPE).split(";")[0]
        return DocumentFile(reply.content, content_type)
