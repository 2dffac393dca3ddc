"""The codec server: the Temporal UI reads decrypted payloads through it, operators only
(or anyone on the machine of a dev server, whose UI has no login either)."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator

import httpx
import pytest
from google.protobuf.json_format import MessageToDict, ParseDict
from temporalio.api.common.v1 import Payload

from services.common.payload_keys import new_key_entry, parse_keys
from services.users import api as users_api
from temporal.codec import EncryptionCodec
from temporal.codec_server import DECODE_PATH, ENCODE_PATH, OPERATOR_SCOPE, create_app
from tests.support.harness import running_app, settings_for
from tests.support.tokens import TestIssuer, bearer

KEYS = new_key_entry("k1")
PLAIN = Payload(metadata={"encoding": b"json/plain"}, data=b'{"guest_name":"Ada"}')
UI = "http://127.0.0.1:8233"


@pytest.fixture
def issuer() -> TestIssuer:
    return TestIssuer()


async def _codec_server(tmp_path, issuer, dev_server: bool) -> AsyncIterator[httpx.AsyncClient]:
    env = {
        "TEMPORAL_PAYLOAD_KEYS": KEYS,
        "TEMPORAL_DEV_SERVER": "true" if dev_server else "false",
        "TEMPORAL_UI_URL": UI,
    }
    app = create_app(settings_for(tmp_path, env))
    issuer.install(app)
    async with running_app(app) as client:
        yield client


@pytest.fixture
async def production(tmp_path, issuer) -> AsyncIterator[httpx.AsyncClient]:
    async for client in _codec_server(tmp_path, issuer, dev_server=False):
        yield client


@pytest.fixture
async def local(tmp_path, issuer) -> AsyncIterator[httpx.AsyncClient]:
    async for client in _codec_server(tmp_path, issuer, dev_server=True):
        yield client


async def _sealed() -> dict:
    (sealed,) = await EncryptionCodec(parse_keys(KEYS)).encode([PLAIN])
    return {"payloads": [MessageToDict(sealed)]}


async def test_an_operator_reads_a_payload_decrypted(production, issuer):
    token = issuer.user_token("operator-1", "ops:read", "codec")
    response = await production.post(DECODE_PATH, json=await _sealed(), headers=bearer(token))
    assert response.status_code == 200, response.text
    (decoded,) = response.json()["payloads"]
    assert ParseDict(decoded, Payload()) == PLAIN


async def test_no_token_or_a_travellers_token_reads_nothing(production, issuer):
    assert (await production.post(DECODE_PATH, json=await _sealed())).status_code == 401
    traveller = issuer.user_token("user-1", "profile", "codec")
    refused = await production.post(DECODE_PATH, json=await _sealed(), headers=bearer(traveller))
    assert refused.status_code == 403


async def test_the_dev_servers_ui_decodes_without_a_login_from_its_own_origin(local):
    response = await local.post(DECODE_PATH, json=await _sealed(), headers={"Origin": UI})
    assert response.status_code == 200, response.text
    assert response.headers["access-control-allow-origin"] == UI
    other = await local.options(
        ENCODE_PATH,
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
    )
    assert "access-control-allow-origin" not in other.headers


async def test_encode_then_decode_gives_the_payload_back(local):
    plain = {"payloads": [MessageToDict(PLAIN)]}
    sealed = (await local.post(ENCODE_PATH, json=plain)).json()
    assert "Ada" not in str(sealed)
    opened = (await local.post(DECODE_PATH, json=sealed)).json()
    assert ParseDict(opened["payloads"][0], Payload()) == PLAIN


async def test_a_payload_that_is_not_one_is_a_422_naming_the_field(local):
    response = await local.post(DECODE_PATH, json={"payloads": [{"metadata": "nope"}]})
    assert response.status_code == 422
    assert response.json()["field"] == "payloads.0.metadata"
    unknown = await local.post(DECODE_PATH, json={"payloads": [{"nope": 1}]})
    assert unknown.status_code == 422
    assert unknown.json()["field"] == "payloads"


async def test_a_sealed_payload_too_short_to_hold_a_nonce_is_a_422_naming_the_field(local):
    marked = {"encoding": "binary/encrypted", "encryption-key-id": "k1"}
    metadata = {k: base64.b64encode(v.encode()).decode() for k, v in marked.items()}
    body = {"payloads": [{"metadata": metadata, "data": base64.b64encode(b"abc").decode()}]}
    response = await local.post(DECODE_PATH, json=body)
    assert response.status_code == 422, response.text
    assert response.json()["field"] == "payloads"


async def test_metadata_that_is_not_base64_is_a_422(local):
    response = await local.post(DECODE_PATH, json={"payloads": [{"metadata": {"a": "!!"}}]})
    assert response.status_code == 422
    assert response.json()["field"] == "payloads.0.metadata.a"


def test_the_codec_asks_for_the_operator_scope_users_grants():
    assert OPERATOR_SCOPE == users_api.OPS_READ
