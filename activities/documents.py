"""Activities of the `documents` task queue: render PDFs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from temporalio import activity

from activities import models as act
from activities.calls import run
from services.common.http import ServiceConnections
from services.pdf import api
from services.pdf.client import PdfClient


class DocumentActivities:
    """Calls the PDF reporting service."""

    def __init__(self, connections: ServiceConnections) -> None:
        self.pdf = PdfClient(connections["pdf"])

    @activity.defn(name=act.RENDER_DOCUMENT)
    async def render_document(self, data: act.DocumentInput) -> act.Document:
        """Render (or find, by its key) a document."""
        request = api.RenderRequest(
            template=data.template,
            data=data.data.model_dump(mode="json"),
            owner_id=data.owner_id,
            key=data.key,
        )
        document = await run(self.pdf.render(request), "pdf")
        return act.Document(document_id=document.id)

    def all(self) -> list[Callable[..., Any]]:
        """Every activity of this queue."""
        return [self.render_document]
