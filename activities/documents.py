"""Activities of the `documents` task queue: render PDFs."""

from __future__ import annotations

from temporalio import activity

from activities import models as act
from activities.calls import call
from services.common.http import ServiceClients


class DocumentActivities:
    """Calls the PDF reporting service."""

    def __init__(self, clients: ServiceClients) -> None:
        self.api = clients["pdf"]

    @activity.defn(name=act.RENDER_DOCUMENT)
    async def render_document(self, data: act.DocumentInput) -> act.Document:
        """Render (or find, by its key) a document."""
        response = await call(
            self.api,
            "POST",
            "/documents",
            scopes="documents:render",
            json=data.model_dump(mode="json"),
        )
        assert response is not None
        return act.Document(document_id=response.json()["id"])

    def all(self) -> list:
        """Every activity of this queue."""
        return [self.render_document]
