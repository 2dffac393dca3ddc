"""Routes declared with their pydantic models, and the OpenAPI 3.1 document built from them."""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse
from starlette.routing import Route

_PATH_PARAM = re.compile(r"{(\w+)(?::\w+)?}")
_REF = "#/components/schemas/{model}"
_FORM = "application/x-www-form-urlencoded"


@dataclass(frozen=True)
class Endpoint:
    """One operation of a service's public API: its handler and its contract."""

    method: str
    path: str
    handler: Callable[..., Any]
    summary: str
    query: type[BaseModel] | None = None
    body: type[BaseModel] | None = None
    response: type[BaseModel] | None = None
    status: int = 200
    errors: Sequence[int] = (400, 422)
    scope: str | None = None
    tags: Sequence[str] = field(default_factory=tuple)
    # An application/x-www-form-urlencoded body (read by the handler itself, e.g. OAuth's).
    form: type[BaseModel] | None = None
    # How its errors are written when not as problems: JSON of this model, or else an HTML page.
    error_media: str = "application/problem+json"
    error_model: type[BaseModel] | None = None

    def route(self) -> Route:
        """The Starlette route serving it."""
        return Route(self.path, self.handler, methods=[self.method])

    @property
    def openapi_path(self) -> str:
        """The path with Starlette converters removed (`{id:int}` -> `{id}`)."""
        return _PATH_PARAM.sub(r"{\1}", self.path)


def _error_response(status: int, endpoint: Endpoint, refs: dict[Any, Any]) -> dict[str, Any]:
    if 300 <= status < 400:
        return {"description": "A redirect (see its Location)"}
    if endpoint.error_model is not None:
        schema = refs[(endpoint.error_model, "serialization")]
        return {"description": "An error", "content": {endpoint.error_media: {"schema": schema}}}
    if endpoint.error_media != "application/problem+json":
        content = {endpoint.error_media: {"schema": {"type": "string"}}}
        return {"description": "An error page", "content": content}
    return {
        "description": "A problem (RFC 9457)",
        "content": {"application/problem+json": {"schema": {"$ref": _REF.format(model="Problem")}}},
    }


_PROBLEM_SCHEMA = {
    "type": "object",
    "properties": {
        "type": {"type": "string", "format": "uri"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "field": {"type": "string", "description": "the offending input"},
        "instance": {"type": "string"},
    },
    "required": ["type", "title", "status"],
}


def openapi_document(title: str, version: str, endpoints: Sequence[Endpoint]) -> dict[str, Any]:
    """The OpenAPI 3.1 document of a service's endpoints."""
    # A model may be both a request body and a response: it gets a schema for each mode.
    keyed: set[tuple[type[BaseModel], JsonSchemaMode]] = {
        (e.body, "validation") for e in endpoints if e.body is not None
    }
    keyed |= {(e.form, "validation") for e in endpoints if e.form is not None}
    keyed |= {
        (m, "serialization") for e in endpoints for m in (e.query, e.response, e.error_model) if m
    }
    refs, definitions = models_json_schema(
        sorted(keyed, key=lambda pair: (pair[0].__name__, pair[1])), ref_template=_REF
    )
    schemas: dict[str, Any] = dict(definitions.get("$defs", {}))
    schemas["Problem"] = _PROBLEM_SCHEMA
    paths: dict[str, Any] = {}
    for endpoint in endpoints:
        operation: dict[str, Any] = {"summary": endpoint.summary, "parameters": []}
        if endpoint.tags:
            operation["tags"] = list(endpoint.tags)
        for name in _PATH_PARAM.findall(endpoint.path):
            operation["parameters"].append(
                {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
            )
        if endpoint.query is not None:
            query_schema = endpoint.query.model_json_schema(ref_template=_REF)
            required = set(query_schema.get("required", []))
            for name, prop in query_schema.get("properties", {}).items():
                parameter = {"name": name, "in": "query", "required": name in required}
                if "description" in prop:
                    parameter["description"] = prop["description"]
                parameter["schema"] = prop
                operation["parameters"].append(parameter)
        for model, media in ((endpoint.body, "application/json"), (endpoint.form, _FORM)):
            if model is not None:
                operation["requestBody"] = {
                    "required": True,
                    "content": {media: {"schema": refs[(model, "validation")]}},
                }
        success: dict[str, Any] = {"description": "OK"}
        if endpoint.response is not None:
            ref = refs[(endpoint.response, "serialization")]
            success["content"] = {"application/json": {"schema": ref}}
        responses: dict[str, Any] = {str(endpoint.status): success}
        codes = set(endpoint.errors)
        if endpoint.body is not None or endpoint.query is not None:
            codes.add(400)  # a body that is not JSON, an unknown or malformed query parameter
        if endpoint.scope:
            codes |= {401, 403}
            operation["security"] = [{"bearer": [endpoint.scope]}]
        for code in sorted(codes):
            responses[str(code)] = _error_response(code, endpoint, refs)
        operation["responses"] = responses
        paths.setdefault(endpoint.openapi_path, {})[endpoint.method.lower()] = operation
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version},
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "JWT (RFC 9068 access token from the auth service)",
                }
            },
        },
    }


def docs_routes(title: str, version: str, endpoints: Sequence[Endpoint]) -> list[Route]:
    """/openapi.json and a plain /docs page listing every operation (no CDN needed)."""
    document = openapi_document(title, version, endpoints)

    async def openapi_json(_request: Request) -> JSONResponse:
        return JSONResponse(document)

    async def docs_page(_request: Request) -> HTMLResponse:
        rows = []
        for path, operations in document["paths"].items():
            for method, operation in operations.items():
                params = ", ".join(
                    p["name"] + ("" if p["required"] else "?") for p in operation["parameters"]
                )
                rows.append(
                    f"<tr><td><code>{method.upper()}</code></td><td><code>{html.escape(path)}"
                    f"</code></td><td>{html.escape(params)}</td>"
                    f"<td>{html.escape(operation['summary'])}</td></tr>"
                )
        page = (
            f"<!doctype html><html lang=en><meta charset=utf-8><title>{html.escape(title)} API"
            f"</title><h1>{html.escape(title)} API {html.escape(version)}</h1>"
            "<p>Machine-readable: <a href=/openapi.json>/openapi.json</a> (OpenAPI 3.1). "
            "Errors are <code>application/problem+json</code>.</p>"
            "<table border=1 cellpadding=4><tr><th>method<th>path<th>parameters<th>what</tr>"
            + "".join(rows)
            + "</table></html>"
        )
        return HTMLResponse(page)

    return [
        Route("/openapi.json", openapi_json, methods=["GET"]),
        Route("/docs", docs_page, methods=["GET"]),
    ]
