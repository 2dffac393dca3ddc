"""HTTP errors as RFC 9457 problem details (application/problem+json), never a trace."""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

PROBLEM_CONTENT_TYPE = "application/problem+json"
PROBLEM_BASE = "https://staysaga.dev/problems/"

log = logging.getLogger("staysaga.http")

M = TypeVar("M", bound=BaseModel)


class ProblemResponse(JSONResponse):
    """A JSON response with the problem+json media type."""

    media_type = PROBLEM_CONTENT_TYPE


class Problem(Exception):
    """Raise from a route to answer with a problem document.

    `type` is a stable slug (documented per service); `field` names the offending input.
    """

    def __init__(
        self,
        status: int,
        type: str,
        title: str,
        detail: str | None = None,
        *,
        field: str | None = None,
        headers: Mapping[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(title)
        self.status = status
        self.type = type
        self.title = title
        self.detail = detail
        self.field = field
        self.headers = dict(headers or {})
        self.extra = extra

    def body(self, instance: str | None = None) -> dict[str, Any]:
        """The JSON document of this problem."""
        document: dict[str, Any] = {
            "type": PROBLEM_BASE + self.type,
            "title": self.title,
            "status": self.status,
        }
        if self.detail:
            document["detail"] = self.detail
        if self.field:
            document["field"] = self.field
        if instance:
            document["instance"] = instance
        document.update(self.extra)
        return document

    def response(self, instance: str | None = None) -> ProblemResponse:
        """This problem as an HTTP response."""
        return ProblemResponse(self.body(instance), status_code=self.status, headers=self.headers)


class ValidationProblem(Problem):
    """422 (or 400) for input that fails validation; lists every error with its field."""

    def __init__(self, errors: list[dict[str, Any]], status: int = 422) -> None:
        first = errors[0]
        super().__init__(
            status,
            "validation-error",
            "Your request has invalid fields." if status == 422 else "Bad request parameters.",
            f"{first['field']}: {first['message']}",
            field=first["field"],
            errors=errors,
        )


def not_found(what: str, key: Any) -> Problem:
    """404 for an unknown resource."""
    return Problem(404, "not-found", f"No such {what}.", f"There is no {what} {key}.")


def wrong_state(type: str, what: str, status: str, action: str) -> Problem:
    """409 for an action the resource's state forbids; `status_now` says which it is in."""
    return Problem(
        409, type, f"This {what} cannot be {action}.", f"It is {status}.", status_now=status
    )


def errors_from_validation(exc: ValidationError, prefix: str = "") -> list[dict[str, Any]]:
    """Pydantic's errors as [{field, message}], the field spelled as the client sent it."""
    errors = []
    for error in exc.errors(include_url=False):
        parts = [str(p) for p in error["loc"]]
        field = ".".join(parts) or prefix.rstrip(".") or "body"
        errors.append({"field": prefix + field if parts else field, "message": error["msg"]})
    return errors


@functools.cache
def _list_fields(model: type[BaseModel]) -> frozenset[str]:
    """The fields of a query model that take a repeated parameter."""
    return frozenset(
        name for name, info in model.model_fields.items() if "list" in str(info.annotation)
    )


def parse_query(model: type[M], request: Request) -> M:
    """Validate query parameters against a model, or raise a 400 naming the parameter."""
    lists = _list_fields(model)
    raw: dict[str, Any] = {}
    for key, value in request.query_params.multi_items():
        if "\x00" in key + value:
            raise ValidationProblem([{"field": key, "message": NUL_MESSAGE}], status=400)
        if key in lists:
            raw.setdefault(key, []).append(value)
        else:
            raw[key] = value  # the last one wins
    unknown = sorted(set(raw) - set(model.model_fields))
    if unknown:
        raise ValidationProblem(
            [{"field": name, "message": "unknown parameter"} for name in unknown], status=400
        )
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise ValidationProblem(errors_from_validation(exc), status=400) from None


async def parse_body(model: type[M], request: Request) -> M:
    """Validate a JSON body against a model, or raise a 4xx naming the field."""
    body = await request.body()
    try:
        parsed = model.model_validate_json(body or b"null")
    except ValidationError as exc:
        errors = errors_from_validation(exc)
        if any(e["message"].startswith("Invalid JSON") for e in errors):
            raise Problem(
                400, "invalid-json", "The body is not valid JSON.", field="body"
            ) from None
        raise ValidationProblem(errors) from None
    # JSON can carry a NUL only escaped; the byte search keeps the common case free.
    if b"\\u0000" in body:
        where = nul_location(json.loads(body))
        if where is not None:
            raise ValidationProblem([{"field": where or "body", "message": NUL_MESSAGE}])
    return parsed


NUL_MESSAGE = "must not contain NUL characters"


def nul_location(data: Any, prefix: str = "") -> str | None:
    """Where parsed JSON holds a NUL character in a string or key (`items.0.name`), or None."""
    if isinstance(data, str):
        return prefix.rstrip(".") if "\x00" in data else None
    items: Any = ()
    if isinstance(data, dict):
        items = data.items()
    elif isinstance(data, list):
        items = enumerate(data)
    for key, value in items:
        if "\x00" in str(key):
            return prefix + str(key)
        found = nul_location(value, f"{prefix}{key}.")
        if found is not None:
            return found
    return None


class RefuseNulMiddleware:
    """400 for a path holding a NUL character: no database of ours can store one, and none
    is meaningful in a URL (`parse_query` and `parse_body` refuse one in their input)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Refuse the request, or serve it."""
        if scope["type"] != "http" or "\x00" not in scope["path"]:
            await self.app(scope, receive, send)
            return
        problem = ValidationProblem([{"field": "path", "message": NUL_MESSAGE}], status=400)
        await problem.response(scope["path"])(scope, receive, send)


async def handle_problem(request: Request, exc: Exception) -> ProblemResponse:
    """Exception handler for Problem."""
    assert isinstance(exc, Problem)
    return exc.response(request.url.path)


async def handle_http_exception(request: Request, exc: Exception) -> ProblemResponse:
    """Starlette's own HTTP errors (404 route, 405 method) as problems."""
    assert isinstance(exc, HTTPException)
    phrase = HTTPStatus(exc.status_code).phrase
    slug = phrase.lower().replace(" ", "-")
    detail = exc.detail if exc.detail != phrase else None
    problem = Problem(exc.status_code, slug, phrase, detail, headers=exc.headers)
    return problem.response(request.url.path)


async def handle_unexpected(request: Request, exc: Exception) -> ProblemResponse:
    """Anything else: log it with its trace, answer 500 without one."""
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    problem = Problem(500, "internal-error", "Something went wrong on our side.")
    return problem.response(request.url.path)


EXCEPTION_HANDLERS = {
    Problem: handle_problem,
    HTTPException: handle_http_exception,
    Exception: handle_unexpected,
}
