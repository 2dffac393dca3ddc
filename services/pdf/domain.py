"""Documents: render once per key (off the event loop), keep, and read back."""

from __future__ import annotations

import asyncio
import hashlib
import json
import uuid
from concurrent.futures import Executor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncEngine

from services.common.db import as_utc, first_write_wins
from services.common.problems import Problem, ValidationProblem, errors_from_validation
from services.pdf import api
from services.pdf.render import render
from services.pdf.tables import documents


def validate_data(template: str, data: dict[str, Any]) -> api.ReceiptData:
    """The template's data model, or a 422 naming each bad field as `data.<field>`."""
    try:
        return api.TEMPLATE_DATA[template].model_validate(data)
    except ValidationError as exc:
        raise ValidationProblem(errors_from_validation(exc, prefix="data.")) from None


def _fingerprint(template: str, owner_id: str, data: api.ReceiptData) -> str:
    canonical = json.dumps(
        {"template": template, "owner_id": owner_id, "data": data.model_dump(mode="json")},
        sort_keys=True,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def _document(row: Any) -> api.Document:
    return api.Document(
        id=row.id,
        template=row.template,
        owner_id=row.owner_id,
        created_at=as_utc(row.created_at),
        size=row.size,
    )


_META = (
    documents.c.id,
    documents.c.key,
    documents.c.template,
    documents.c.owner_id,
    documents.c.data_sha256,
    documents.c.created_at,
    documents.c.size,
)


async def _by_key(engine: AsyncEngine, key: str) -> Any:
    async with engine.connect() as conn:
        return (await conn.execute(sa.select(*_META).where(documents.c.key == key))).first()


def _same_request(row: Any, fingerprint: str) -> api.Document:
    if row.data_sha256 != fingerprint:
        raise Problem(
            409,
            "key-reused",
            "This key already names another document.",
            "The key was used before with another template, owner or data; use a new key.",
            field="key",
        )
    return _document(row)


@dataclass(frozen=True)
class Rendered:
    """The outcome of a render request: the document and whether this call made it."""

    document: api.Document
    created: bool


async def render_document(
    engine: AsyncEngine, executor: Executor, request: api.RenderRequest
) -> Rendered:
    """Render and store a document, or return the one already made for the same key."""
    data = validate_data(request.template, request.data)
    fingerprint = _fingerprint(request.template, request.owner_id, data)
    existing = await _by_key(engine, request.key)
    if existing is not None:
        return Rendered(_same_request(existing, fingerprint), created=False)
    document_id = uuid.uuid4().hex
    loop = asyncio.get_running_loop()
    content = await loop.run_in_executor(executor, render, request.template, data, document_id)
    row = {
        "id": document_id,
        "key": request.key,
        "template": request.template,
        "owner_id": request.owner_id,
        "data_sha256": fingerprint,
        "created_at": datetime.now(UTC),
        "size": len(content),
        "content": content,
    }

    async def store() -> api.Document:
        async with engine.begin() as conn:
            await conn.execute(documents.insert().values(**row))
        return _document(_Row(row))

    async def replay() -> api.Document | None:
        winner = await _by_key(engine, request.key)
        return None if winner is None else _same_request(winner, fingerprint)

    document, created = await first_write_wins(store, replay)
    return Rendered(document, created=created)


class _Row:
    """Attribute access over a dict, to share `_document` with database rows."""

    def __init__(self, values: dict[str, Any]) -> None:
        self.__dict__.update(values)


async def get_document(engine: AsyncEngine, document_id: str) -> tuple[api.Document, bytes] | None:
    """A document and its PDF bytes, or None."""
    async with engine.connect() as conn:
        row = (
            await conn.execute(
                sa.select(*_META, documents.c.content).where(documents.c.id == document_id)
            )
        ).first()
    if row is None:
        return None
    return _document(row), row.content
