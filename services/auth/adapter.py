"""authlib's view of a Starlette request (read on the event loop, used in a worker thread),
and its answer as a Starlette response."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from authlib.oauth2 import OAuth2Request
from authlib.oauth2.rfc6749.requests import OAuth2Payload
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

if TYPE_CHECKING:
    from services.auth.domain import OAuthServer


@dataclass(frozen=True)
class Snapshot:
    """An HTTP request read on the event loop, safe to hand to a worker thread."""

    method: str
    path: str
    headers: Headers
    query: list[tuple[str, str]]
    form: list[tuple[str, str]]


async def snapshot(request: Request) -> Snapshot:
    """Copy what authlib needs from a Starlette request (reads a form body)."""
    form: list[tuple[str, str]] = []
    if request.method == "POST":
        parsed = await request.form()
        form = [(k, v) for k, v in parsed.multi_items() if isinstance(v, str)]
    return Snapshot(
        request.method,
        request.url.path,
        request.headers,
        list(request.query_params.multi_items()),
        form,
    )


class _Payload(OAuth2Payload):
    def __init__(self, pairs: Sequence[tuple[str, str]]) -> None:
        self._datalist: defaultdict[str, list[str]] = defaultdict(list)
        for key, value in pairs:
            self._datalist[key].append(value)
        self._data = {key: values[0] for key, values in self._datalist.items()}

    @property
    def data(self) -> dict[str, str]:
        return self._data

    @property
    def datalist(self) -> defaultdict[str, list[str]]:
        return self._datalist


class StarletteOAuth2Request(OAuth2Request):
    """authlib's request over a Snapshot: query and form parameters both count."""

    def __init__(self, snap: Snapshot, uri: str) -> None:
        super().__init__(snap.method, uri, headers=snap.headers)
        self.payload = _Payload(snap.query + snap.form)
        self._args = dict(snap.query)
        self._form = dict(snap.form)
        self.audiences: tuple[str, ...] = ()

    @property
    def args(self) -> dict[str, str]:
        """Query parameters (first value each)."""
        return self._args

    @property
    def form(self) -> dict[str, str]:
        """Form parameters (first value each)."""
        return self._form


def oauth_server(request: Request) -> OAuthServer:
    """The app's OAuth 2 server (authlib's, over our store), set up at start."""
    return cast("OAuthServer", request.app.state.oauth)


def respond(result: tuple[int, Any, Any]) -> Response:
    """authlib's answer (status, body, headers) as a Starlette response."""
    status, body, headers = result
    extra = {k: v for k, v in (headers or []) if k.lower() != "content-type"}
    if isinstance(body, dict | list):
        return JSONResponse(body, status_code=status, headers=extra)
    return Response(body or b"", status_code=status, headers=extra)
