"""The codec server: the Temporal UI's window onto encrypted payloads, for operators.

The UI sends the payloads it shows to `<endpoint>/decode` (Temporal's remote codec
protocol: JSON `{"payloads": [{"metadata": {...}, "data": ...}]}`, bytes in base64) and
shows what comes back; `/encode` is the way back, for the UI's signals and queries. The
keys are `TEMPORAL_PAYLOAD_KEYS`, as in every worker.

Who may decode: a caller with an access token of our authorization server for the codec's
audience carrying the operator scope: what a Temporal UI signed in with our authorization
server (OpenID Connect, client `temporal-ui`, operators only) passes along for an
operator (`TEMPORAL_CODEC_PASS_ACCESS_TOKEN`). With
the local dev server (`TEMPORAL_DEV_SERVER=true`), whose UI has no login and listens on
loopback only, the codec server listens on loopback too and answers without a token: the
dev UI is an operator tool on the operator's own machine.
"""

from __future__ import annotations

from typing import Annotated

from google.protobuf.json_format import MessageToDict, ParseDict
from pydantic import BaseModel, ConfigDict, Field
from starlette.applications import Starlette
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from temporalio.api.common.v1 import Payload

from services.common.app import create_service_app
from services.common.openapi import Endpoint
from services.common.payload_keys import parse_keys
from services.common.problems import Problem, parse_body
from services.common.settings import Settings
from temporal.codec import CODEC_COMPONENT, CODEC_PATH, EncryptionCodec, PayloadKeyError

# Users' operator scope (services/users/api.OPS_READ): temporal/ imports only common, and
# a test holds the two equal.
OPERATOR_SCOPE = "ops:read"
DECODE_PATH = f"{CODEC_PATH}/decode"
ENCODE_PATH = f"{CODEC_PATH}/encode"
MAX_PAYLOADS = 1000


# Protobuf's JSON form of bytes: standard or URL-safe base64, padded or not.
BASE64_PATTERN = r"^[A-Za-z0-9+/_-]*={0,2}$"
Base64 = Annotated[str, Field(pattern=BASE64_PATTERN)]


class PayloadJSON(BaseModel):
    """One payload in Temporal's JSON form: its metadata values and its data in base64.

    Fields a newer Temporal adds pass on to the protobuf parser, which judges them."""

    model_config = ConfigDict(extra="allow")
    metadata: dict[str, Base64] = Field(default_factory=dict)
    data: Base64 = ""


class Payloads(BaseModel):
    """Payloads in Temporal's JSON form (`metadata` values and `data` in base64)."""

    payloads: list[PayloadJSON] = Field(max_length=MAX_PAYLOADS)


def _codec(request: Request) -> EncryptionCodec:
    codec: EncryptionCodec | None = request.app.state.codec
    if codec is None:
        raise Problem(503, "no-keys", "No payload keys", "TEMPORAL_PAYLOAD_KEYS is not set.")
    return codec


async def _payloads(request: Request) -> list[Payload]:
    body = await parse_body(Payloads, request)
    try:
        return [ParseDict(item.model_dump(), Payload()) for item in body.payloads]
    except Exception:
        raise Problem(422, "invalid-payload", "Not a Temporal payload", field="payloads") from None


def _answer(payloads: list[Payload]) -> JSONResponse:
    return JSONResponse({"payloads": [MessageToDict(p) for p in payloads]})


async def decode(request: Request) -> JSONResponse:
    """POST /codec/decode: payloads as the workers see them."""
    payloads = await _payloads(request)
    try:
        return _answer(await _codec(request).decode(payloads))
    except PayloadKeyError as exc:
        raise Problem(422, "undecodable", "Cannot decrypt", str(exc), field="payloads") from None


async def encode(request: Request) -> JSONResponse:
    """POST /codec/encode: payloads sealed as the workers would send them."""
    payloads = await _payloads(request)
    return _answer(await _codec(request).encode(payloads))


def endpoints(scope: str | None) -> tuple[Endpoint, ...]:
    """The codec's routes, behind the operator scope unless `scope` is None."""
    errors = (401, 403, 422, 503)
    return (
        Endpoint(
            "POST",
            DECODE_PATH,
            decode,
            "Decrypt payloads for the Temporal UI",
            body=Payloads,
            response=Payloads,
            errors=errors,
            scope=scope,
        ),
        Endpoint(
            "POST",
            ENCODE_PATH,
            encode,
            "Encrypt payloads for the Temporal UI",
            body=Payloads,
            response=Payloads,
            errors=errors,
            scope=scope,
        ),
    )


def create_app(settings: Settings) -> Starlette:
    """The codec server's ASGI app."""
    # The dev server's UI has no login: its codec answers on loopback without a token.
    scope = None if settings.temporal.dev_server else OPERATOR_SCOPE
    app = create_service_app(
        CODEC_COMPONENT, settings, endpoints(scope), title="staysaga payload codec"
    )
    keys = settings.temporal.payload_keys
    app.state.codec = EncryptionCodec(parse_keys(keys)) if keys else None
    # The UI calls from the browser, from its own origin.
    app.add_middleware(
        CORSMiddleware,
        allow_origins=[settings.temporal_ui_url],
        allow_methods=["POST"],
        allow_headers=["Authorization", "Content-Type", "X-Namespace"],
        allow_credentials=True,
    )
    return app
