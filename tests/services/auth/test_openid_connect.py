"""The authorization server as an OpenID Connect provider, for the Temporal UI: discovery, ID
tokens, userinfo, operators only, and a token the codec server takes from the UI."""

from __future__ import annotations

import re
import secrets
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from google.protobuf.json_format import MessageToDict, ParseDict
from joserfc import jwt
from joserfc.jwk import KeySet
from temporalio.api.common.v1 import Payload

from components.registry import TEMPORAL_UI_CLIENT
from services.auth.oauth_clients import TEMPORAL_UI_CALLBACK_PATH
from services.common.auth import audience
from services.common.payload_keys import new_key_entry, parse_keys
from temporal.codec import EncryptionCodec
from temporal.codec_server import DECODE_PATH
from temporal.codec_server import create_app as create_codec_app
from tests.services.auth.conftest import SECRETS, Auth, claims_of, pkce_verifier, s256
from tests.support.harness import running_app, settings_for
from tests.support.tokens import bearer

OPERATOR = ("grace@example.com", "operator horse battery")
TRAVELLER = ("ada@example.com", "correct horse battery")
UI_SCOPES = "openid profile email ops:read"


def _callback(auth: Auth) -> str:
    return auth.settings.temporal_ui_url + TEMPORAL_UI_CALLBACK_PATH


async def _ui_sign_in(
    auth: Auth,
    account: tuple[str, str],
    verifier: str | None,
    scope: str = UI_SCOPES,
    nonce: str | None = None,
) -> httpx.Response:
    """Open the sign-in page as the Temporal UI's redirect would, and submit the form (or
    the page's answer, if it refuses the request)."""
    params = {
        "response_type": "code",
        "client_id": TEMPORAL_UI_CLIENT,
        "redirect_uri": _callback(auth),
        "scope": scope,
        "state": "ui-state",
    }
    if verifier is not None:
        params |= {"code_challenge": s256(verifier), "code_challenge_method": "S256"}
    if nonce is not None:
        params["nonce"] = nonce
    page = await auth.client.get("/oauth2/authorize", params=params)
    if page.status_code != 200:
        return page
    fields = dict(re.findall(r'type="hidden" name="([^"]+)" value="([^"]*)"', page.text))
    email, password = account
    return await auth.client.post(
        "/oauth2/authorize", data={**fields, "email": email, "password": password}
    )


def _refusal(response: httpx.Response) -> str:
    """The OAuth error of a redirect back to the Temporal UI (which carries no code)."""
    query = parse_qs(urlsplit(response.headers["location"]).query)
    assert "code" not in query
    return query["error"][0]


async def _ui_code(
    auth: Auth, account: tuple[str, str], verifier: str | None, scope: str, nonce: str | None
) -> str:
    redirect = await _ui_sign_in(auth, account, verifier, scope, nonce)
    assert redirect.status_code == 302, redirect.text
    location = redirect.headers["location"]
    assert location.startswith(_callback(auth)), location
    query = {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
    assert query["state"] == "ui-state"
    return query["code"]


async def _ui_exchange(auth: Auth, code: str, verifier: str | None) -> httpx.Response:
    """The Temporal UI server trading its code, authenticated with its secret."""
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": _callback(auth)}
    if verifier is not None:
        form["code_verifier"] = verifier
    return await auth.client.post(
        "/oauth2/token", data=form, auth=(TEMPORAL_UI_CLIENT, SECRETS[TEMPORAL_UI_CLIENT])
    )


async def _ui_tokens(
    auth: Auth,
    account: tuple[str, str] = OPERATOR,
    scope: str = UI_SCOPES,
    nonce: str | None = None,
) -> dict[str, Any]:
    """The whole flow with PKCE: sign-in, code, exchange with the client's secret."""
    verifier = pkce_verifier()
    code = await _ui_code(auth, account, verifier, scope, nonce)
    response = await _ui_exchange(auth, code, verifier)
    assert response.status_code == 200, response.text
    return response.json()


async def _verified_id_token(auth: Auth, token: str, nonce: str | None) -> dict[str, Any]:
    """The ID token's claims, checked as an OpenID Connect client checks them."""
    discovery = (await auth.client.get("/.well-known/openid-configuration")).json()
    jwks_path = urlsplit(discovery["jwks_uri"]).path
    keys = KeySet.import_key_set((await auth.client.get(jwks_path)).json())
    decoded = jwt.decode(token, keys, algorithms=discovery["id_token_signing_alg_values_supported"])
    expected: dict[str, Any] = {
        "iss": {"essential": True, "value": discovery["issuer"]},
        "aud": {"essential": True, "value": TEMPORAL_UI_CLIENT},
        "sub": {"essential": True},
        "exp": {"essential": True},
        "iat": {"essential": True},
        "auth_time": {"essential": True},
    }
    if nonce is not None:
        expected["nonce"] = {"essential": True, "value": nonce}
    jwt.JWTClaimsRegistry(**expected).validate(decoded.claims)
    return dict(decoded.claims)


async def test_discovery_names_our_endpoints_scopes_and_pkce(auth):
    response = await auth.client.get("/.well-known/openid-configuration")
    assert response.status_code == 200
    document = response.json()
    issuer = auth.settings.auth_issuer
    assert document["issuer"] == issuer
    assert document["authorization_endpoint"] == issuer + "/oauth2/authorize"
    assert document["token_endpoint"] == issuer + "/oauth2/token"
    assert document["userinfo_endpoint"] == issuer + "/oauth2/userinfo"
    assert document["jwks_uri"] == issuer + "/.well-known/jwks.json"
    assert {"openid", "profile", "email", "ops:read"} <= set(document["scopes_supported"])
    assert document["response_types_supported"] == ["code"]
    assert document["code_challenge_methods_supported"] == ["S256"]
    assert document["id_token_signing_alg_values_supported"] == ["ES256"]
    assert document["subject_types_supported"] == ["public"]
    assert {"sub", "nonce", "auth_time", "email", "name"} <= set(document["claims_supported"])


async def test_an_operators_ui_sign_in_gets_an_id_token_that_verifies_against_the_jwks(auth):
    nonce = secrets.token_urlsafe(16)
    tokens = await _ui_tokens(auth, nonce=nonce)
    claims = await _verified_id_token(auth, tokens["id_token"], nonce)
    assert claims["sub"] == "user-grace"
    assert claims["email"] == "grace@example.com"
    assert claims["name"] == "Ada"  # what the stand-in Users calls every account
    access = claims_of(tokens["access_token"])
    assert access["sub"] == claims["sub"]
    assert set(access["scope"].split()) == set(UI_SCOPES.split())


async def test_a_nonce_is_single_use(auth):
    nonce = secrets.token_urlsafe(16)
    await _ui_tokens(auth, nonce=nonce)
    replay = await _ui_sign_in(auth, OPERATOR, pkce_verifier(), nonce=nonce)
    assert replay.status_code == 302
    assert _refusal(replay) == "invalid_request"


async def test_the_temporal_ui_server_binds_its_sign_in_by_nonce_when_it_sends_no_pkce(auth):
    nonce = secrets.token_urlsafe(16)
    code = await _ui_code(auth, OPERATOR, None, UI_SCOPES, nonce)
    # A verifier for a request that sent no challenge is refused (RFC 9700 section 4.8).
    assert (await _ui_exchange(auth, code, pkce_verifier())).status_code == 400
    code = await _ui_code(auth, OPERATOR, None, UI_SCOPES, secrets.token_urlsafe(16))
    tokens = await _ui_exchange(auth, code, None)
    assert tokens.status_code == 200, tokens.text
    assert (await _verified_id_token(auth, tokens.json()["id_token"], None))["sub"] == "user-grace"


async def test_without_pkce_a_nonce_and_openid_are_required_and_only_for_the_ui(auth):
    no_nonce = await _ui_sign_in(auth, OPERATOR, None)
    assert _refusal(no_nonce) == "invalid_request"
    no_openid = await _ui_sign_in(auth, OPERATOR, None, scope="ops:read", nonce="n-1")
    assert _refusal(no_openid) == "invalid_request"
    website = await auth.client.get(
        "/oauth2/authorize",
        params={
            "response_type": "code",
            "client_id": "web",
            "redirect_uri": "http://127.0.0.1:8000/auth/callback",
            "scope": "profile",
            "nonce": "n-2",
        },
    )
    assert website.status_code == 302
    assert parse_qs(urlsplit(website.headers["location"]).query)["error"] == ["invalid_request"]


async def test_an_id_token_says_only_what_the_scopes_allow(auth):
    tokens = await _ui_tokens(auth, scope="openid ops:read")
    claims = await _verified_id_token(auth, tokens["id_token"], None)
    assert claims["sub"] == "user-grace"
    assert "email" not in claims and "name" not in claims


async def test_the_ui_keeps_its_codec_token_fresh_with_its_refresh_token(auth):
    tokens = await _ui_tokens(auth)
    renewed = await auth.client.post(
        "/oauth2/token",
        data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
        auth=(TEMPORAL_UI_CLIENT, SECRETS[TEMPORAL_UI_CLIENT]),
    )
    assert renewed.status_code == 200, renewed.text
    access = claims_of(renewed.json()["access_token"])
    assert access["aud"] == audience("codec")
    assert set(access["scope"].split()) == set(UI_SCOPES.split())
    # Another client cannot use it.
    stolen = await auth.refresh(renewed.json()["refresh_token"])
    assert stolen.status_code == 400


async def test_a_second_sign_in_updates_what_the_id_token_says(auth):
    await _ui_tokens(auth)
    again = await _ui_tokens(auth)
    claims = await _verified_id_token(auth, again["id_token"], None)
    assert claims["email"] == "grace@example.com"


async def test_without_openid_there_is_no_id_token(auth):
    tokens = await _ui_tokens(auth, scope="ops:read")
    assert "id_token" not in tokens


async def test_userinfo_answers_sub_and_the_claims_of_the_granted_scopes(auth):
    full = await _ui_tokens(auth)
    response = await auth.client.get("/oauth2/userinfo", headers=bearer(full["access_token"]))
    assert response.status_code == 200, response.text
    assert response.json() == {
        "sub": "user-grace",
        "name": "Ada",
        "email": "grace@example.com",
        "email_verified": True,
    }
    narrow = await _ui_tokens(auth, scope="openid ops:read")
    posted = await auth.client.post("/oauth2/userinfo", headers=bearer(narrow["access_token"]))
    assert posted.status_code == 200, posted.text
    assert posted.json() == {"sub": "user-grace"}


async def test_userinfo_refuses_no_token_and_a_token_without_openid(auth):
    missing = await auth.client.get("/oauth2/userinfo")
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"].startswith("Bearer")
    website = await auth.code_tokens()
    refused = await auth.client.get("/oauth2/userinfo", headers=bearer(website["access_token"]))
    assert refused.status_code == 401
    assert refused.json()["error"] == "invalid_token"
    forged = website["access_token"][:-4] + "AAAA"
    assert (await auth.client.get("/oauth2/userinfo", headers=bearer(forged))).status_code == 401


async def test_a_traveller_cannot_sign_in_to_the_temporal_ui(auth):
    response = await _ui_sign_in(auth, TRAVELLER, pkce_verifier())
    assert response.status_code == 403
    assert "location" not in response.headers
    assert "operators only" in response.text


async def test_the_temporal_ui_client_gets_no_token_for_itself(auth):
    response = await auth.client_token(TEMPORAL_UI_CLIENT, "ops:read", audience("codec"))
    assert response.status_code in (400, 401)
    assert response.json()["error"] == "unauthorized_client"


async def test_the_ui_token_is_for_the_codec_server_only(auth):
    tokens = await _ui_tokens(auth)
    assert claims_of(tokens["access_token"])["aud"] == audience("codec")
    asked = await _ui_sign_in(auth, OPERATOR, pkce_verifier(), scope=UI_SCOPES + " ops:write")
    # A scope the Temporal UI may not have (it only reads) is refused, not narrowed.
    assert asked.status_code == 302
    assert _refusal(asked) == "invalid_scope"


KEYS = new_key_entry("k1")
PLAIN = Payload(metadata={"encoding": b"json/plain"}, data=b'{"guest_name":"Ada"}')


@pytest.fixture
async def codec(auth, tmp_path) -> AsyncIterator[httpx.AsyncClient]:
    """A production codec server trusting the auth server under test."""
    env = {
        "TEMPORAL_PAYLOAD_KEYS": KEYS,
        "TEMPORAL_DEV_SERVER": "false",
        "AUTH_ISSUER": auth.settings.auth_issuer,
    }
    app = create_codec_app(settings_for(tmp_path / "codec", env))
    app.state.token_verifier = auth.verifier("codec")
    async with running_app(app) as client:
        yield client


async def _sealed() -> dict[str, Any]:
    (sealed,) = await EncryptionCodec(parse_keys(KEYS)).encode([PLAIN])
    return {"payloads": [MessageToDict(sealed)]}


async def test_the_codec_server_decodes_for_the_token_an_operators_ui_forwards(auth, codec):
    tokens = await _ui_tokens(auth)
    response = await codec.post(
        DECODE_PATH, json=await _sealed(), headers=bearer(tokens["access_token"])
    )
    assert response.status_code == 200, response.text
    assert ParseDict(response.json()["payloads"][0], Payload()) == PLAIN


async def test_the_codec_server_refuses_a_travellers_token_and_other_audiences(auth, codec):
    traveller = await auth.code_tokens()
    refused = await codec.post(
        DECODE_PATH, json=await _sealed(), headers=bearer(traveller["access_token"])
    )
    assert refused.status_code in (401, 403)
    service = await auth.client_token("web", "reservations:read", audience("reservations"))
    wrong_audience = await codec.post(
        DECODE_PATH, json=await _sealed(), headers=bearer(service.json()["access_token"])
    )
    assert wrong_audience.status_code == 401
    ui = await _ui_tokens(auth)
    id_token = await codec.post(DECODE_PATH, json=await _sealed(), headers=bearer(ui["id_token"]))
    assert id_token.status_code == 401
