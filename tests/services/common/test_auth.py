"""Token checks of the app factory, on a small app with one protected, owned resource."""

import base64
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.requests import Request
from starlette.responses import JSONResponse

from services.common import auth
from services.common.app import create_service_app
from services.common.auth import ensure_owner, principal
from services.common.openapi import Endpoint
from tests.support.harness import running_app, settings_for
from tests.support.tokens import TestIssuer, assert_refuses_bad_tokens, bearer

NOTES = {"n1": "user-1", "n2": "user-2"}


async def show_note(request: Request) -> JSONResponse:
    note_id = request.path_params["note_id"]
    ensure_owner(principal(request), NOTES.get(note_id, ""), "note", note_id)
    return JSONResponse({"id": note_id, "owner": NOTES[note_id]})


async def public(request: Request) -> JSONResponse:
    return JSONResponse({"open": True})


@pytest.fixture
async def client_and_issuer(tmp_path):
    app = create_service_app(
        "search",
        settings_for(tmp_path),
        [
            Endpoint("GET", "/notes/{note_id}", show_note, "a note", scope="notes:read"),
            Endpoint("GET", "/public", public, "open"),
        ],
        title="test",
    )
    issuer = TestIssuer()
    issuer.install(app)
    async with running_app(app) as client:
        yield client, issuer


async def test_every_bad_token_is_refused(client_and_issuer):
    client, issuer = client_and_issuer
    await assert_refuses_bad_tokens(client, issuer, "GET", "/notes/n1", "notes:read", "search")


async def test_a_good_token_with_the_scope_is_served(client_and_issuer):
    client, issuer = client_and_issuer
    token = issuer.user_token("user-1", "notes:read profile", "search")
    response = await client.get("/notes/n1", headers=bearer(token))
    assert response.status_code == 200
    assert response.json() == {"id": "n1", "owner": "user-1"}


async def test_another_travellers_resource_is_404(client_and_issuer):
    client, issuer = client_and_issuer
    token = issuer.user_token("user-1", "notes:read", "search")
    response = await client.get("/notes/n2", headers=bearer(token))
    assert response.status_code == 404


async def test_a_service_token_reaches_any_owner(client_and_issuer):
    client, issuer = client_and_issuer
    token = issuer.service_token("workers", "notes:read", "search")
    assert (await client.get("/notes/n2", headers=bearer(token))).status_code == 200


async def test_routes_without_a_scope_stay_open(client_and_issuer):
    client, _ = client_and_issuer
    assert (await client.get("/public")).json() == {"open": True}


async def test_the_openapi_document_names_the_scope(client_and_issuer):
    client, _ = client_and_issuer
    operation = (await client.get("/openapi.json")).json()["paths"]["/notes/{note_id}"]["get"]
    assert operation["security"] == [{"bearer": ["notes:read"]}]
    assert {"401", "403"} <= set(operation["responses"])


async def test_a_token_for_several_services_verifies_in_each(client_and_issuer):
    client, issuer = client_and_issuer
    claims = issuer.claims("user-1", "notes:read", "search")
    claims["aud"] = ["urn:staysaga:reservations", "urn:staysaga:search"]
    response = await client.get("/notes/n1", headers=bearer(issuer.sign(claims)))
    assert response.status_code == 200
    claims["aud"] = ["urn:staysaga:reservations", "urn:staysaga:payments"]
    response = await client.get("/notes/n1", headers=bearer(issuer.sign(claims)))
    assert response.status_code == 401


async def test_a_verified_token_is_checked_once_then_only_for_expiry(
    client_and_issuer, monkeypatch
):
    client, issuer = client_and_issuer
    decoded = []
    real_decode = auth.jwt.decode
    monkeypatch.setattr(
        auth.jwt, "decode", lambda *a, **k: decoded.append(1) or real_decode(*a, **k)
    )
    claims = issuer.claims("user-1", "notes:read", "search", ttl=60)
    token = issuer.sign(claims)
    for _ in range(3):
        assert (await client.get("/notes/n1", headers=bearer(token))).status_code == 200
    assert len(decoded) == 1
    # Past its expiry (and the leeway), the remembered token is refused like any other.
    later = claims["exp"] + auth.CLOCK_LEEWAY_SECONDS + 1
    monkeypatch.setattr(auth.time, "time", lambda: later)
    response = await client.get("/notes/n1", headers=bearer(token))
    assert response.status_code == 401
    assert "expired" in response.headers["www-authenticate"]


def _token_with_header(header: object) -> str:
    """A token whose header is `header` (JSON), with an unchecked body and signature."""
    parts = [json.dumps(header).encode(), b'{"sub": "user-1"}', b"signature"]
    return ".".join(base64.urlsafe_b64encode(p).rstrip(b"=").decode() for p in parts)


@pytest.mark.parametrize(
    "header",
    [
        {"alg": "ES256", "typ": None, "kid": "k"},
        {"alg": "ES256", "typ": ["at+jwt"], "kid": "k"},
        {"alg": "ES256", "typ": 1, "kid": "k"},
        {"alg": ["ES256"], "typ": "at+jwt", "kid": "k"},
        {"alg": {"ES256": 1}, "typ": "at+jwt", "kid": "k"},
        {"alg": "ES256", "typ": "at+jwt", "kid": ["k"]},
    ],
)
async def test_a_header_field_of_the_wrong_type_is_a_401(client_and_issuer, header):
    client, _ = client_and_issuer
    token = _token_with_header(header)
    response = await client.get("/notes/n1", headers=bearer(token))
    assert response.status_code == 401, response.text
    assert "invalid_token" in response.headers["www-authenticate"]


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=5,
)


@settings(max_examples=200, derandomize=True, deadline=None)
@given(
    header=st.fixed_dictionaries(
        {},
        optional={"alg": _JSON | st.just("ES256"), "typ": _JSON | st.just("at+jwt"), "kid": _JSON},
    )
)
async def test_any_json_header_is_refused_as_a_token_problem(header):
    verifier = auth.TokenVerifier("https://issuer", "urn:staysaga:search", auth.JwksCache(_no_keys))
    with pytest.raises(auth.TokenRejected):
        await verifier.verify(_token_with_header(header))


async def _no_keys() -> dict[str, object]:
    return {"keys": []}


async def test_a_header_nested_past_the_parsers_depth_is_a_401(client_and_issuer):
    client, _ = client_and_issuer
    deep = base64.urlsafe_b64encode(b"[" * 5000 + b"]" * 5000).rstrip(b"=").decode()
    response = await client.get("/notes/n1", headers=bearer(f"{deep}.e30.c2ln"))
    assert response.status_code == 401, response.text
