"""Activities of the `documents` task queue: render PDFs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from temporalio import activity

from activities import models as act
from activities.calls import call
from services.common.http import ServiceClients
from services.pdf.api import TEMPLATE_DATA


class DocumentActivities:
    """Calls the PDF reporting service."""

    def __init__(self, clients: ServiceClients) -> None:
        self.api = clients["pdf"]

    @activity.defn(name=act.RENDER_DOCUMENT)
    async def render_document(self, data: act.DocumentInput) -> act.Document:
        """Render (or find, by its key) a document."""
        # The workflow hands over everything it knows; each template takes its own fields.
        fields = TEMPLATE_DATA[data.template].model_fields
        body = data.model_dump(mode="json")
        body["data"] = {k: v for k, v in body["data"].items() if k in fields}
        response = await call(self.api, "POST", "/documents", scopes="documents:render", json=body)
        assert response is not None
        return act.Document(document_id=response.json()["id"])

    def all(self) -> list[Callable[..., Any]]:
        """Every activity of this queue."""
        return [self.render_document]
