"""The auth server's typed client against the real server: every grant a caller uses, the
revocation, the sign-in address; and the common code that reads the server's answers
without the client still reads them."""

from __future__ import annotations

import re

import pytest

from services.auth import api
from services.auth.client import AuthClient, oauth_error
from services.common.auth import audience
from services.common.http import HttpxTransport, ServiceError, client_credentials
from services.common.oauth import IssuedToken, KeySetDocument
from tests.services.auth.conftest import (
    ACCOUNTS,
    CALLBACK,
    SECRETS,
    Auth,
    callback_params,
    claims_of,
    pkce_verifier,
    s256,
)


def client_of(auth: Auth, client_id: str, secret: str | None = None) -> AuthClient:
    """The auth server's client as one OAuth client, reaching the app under test."""
    transport = HttpxTransport(auth.client)
    return AuthClient(str(auth.client.base_url), client_id, secret or SECRETS[client_id], transport)


async def sign_in_at(auth: Auth, url: str, email: str = "ada@example.com") -> str:
    """Open a sign-in address as a browser would, sign in, and return the code it gives."""
    page = await auth.client.get(url)
    assert page.status_code == 200, page.text
    fields = dict(re.findall(r'type="hidden" name="([^"]+)" value="([^"]*)"', page.text))
    fields = {k: v.replace("&amp;", "&") for k, v in fields.items()}
    password = ACCOUNTS[email][0]
    done = await auth.client.post(
        api.AUTHORIZE_PATH, data={**fields, "email": email, "password": password}
    )
    assert done.status_code == 302, done.text
    return callback_params(done)["code"]


def sign_in_request(verifier: str, **extra: str) -> api.AuthorizationRequest:
    """The website's authorization request for a PKCE sign-in."""
    return api.AuthorizationRequest(
        response_type=api.CODE,
        client_id="web",
        redirect_uri=CALLBACK,
        scope="profile reservations:read",
        state="state-9",
        code_challenge=s256(verifier),
        code_challenge_method=api.S256,
        **extra,
    )


async def test_a_sign_in_from_the_clients_address_gives_tokens_that_refresh_and_revoke(auth):
    web = client_of(auth, "web")
    verifier = pkce_verifier()
    url = web.authorize_url(sign_in_request(verifier, resource=audience("reservations")))
    assert url.startswith(f"{auth.client.base_url}{api.AUTHORIZE_PATH}?response_type=code&")

    tokens = await web.exchange_code(await sign_in_at(auth, url), CALLBACK, verifier)
    assert claims_of(tokens.access_token)["sub"] == "user-ada"
    assert claims_of(tokens.access_token)["aud"] == audience("reservations")
    assert tokens.token_type == "Bearer" and tokens.expires_in > 0 and tokens.refresh_token

    renewed = await web.refresh(tokens.refresh_token)
    assert renewed.refresh_token and renewed.refresh_token != tokens.refresh_token
    await web.revoke(
        api.TokenReference(token=renewed.refresh_token, token_type_hint=api.REFRESH_TOKEN)
    )
    with pytest.raises(ServiceError) as refused:
        await web.refresh(renewed.refresh_token)
    assert refused.value.status == 400
    refusal = oauth_error(refused.value)
    assert refusal is not None and refusal.error == "invalid_grant"


async def test_a_code_is_refused_to_a_verifier_it_was_not_asked_with(auth):
    web = client_of(auth, "web")
    code = await sign_in_at(auth, web.authorize_url(sign_in_request(pkce_verifier())))
    with pytest.raises(ServiceError) as refused:
        await web.exchange_code(code, CALLBACK, pkce_verifier())
    refusal = oauth_error(refused.value)
    assert refusal is not None and refusal.error == "invalid_grant"


async def test_a_client_credentials_token_is_one_the_service_accepts(auth):
    worker = client_of(auth, "worker-payments")
    issued = await worker.client_credentials("payments:charge", audience("payments"))
    assert issued.scope == "payments:charge" and issued.refresh_token is None
    who = await auth.verifier("payments").verify(issued.access_token)
    assert who.is_service and who.has("payments:charge")


async def test_a_wrong_secret_is_refused_with_the_oauth_error(auth):
    worker = client_of(auth, "worker-payments", secret="guess")
    with pytest.raises(ServiceError) as refused:
        await worker.client_credentials("payments:charge", audience("payments"))
    refusal = oauth_error(refused.value)
    assert refused.value.status == 401
    assert refusal is not None and refusal.error == "invalid_client"


def test_a_refusal_without_an_oauth_error_has_none():
    error = ServiceError(502, {"title": "Bad Gateway"}, "POST", "http://auth/oauth2/token")
    assert oauth_error(error) is None


async def test_the_common_token_source_reads_what_the_server_answers(auth):
    # Every process gets its service tokens through common code, which cannot use the
    # client: it reads the answer into its own `IssuedToken`.
    settings = auth.settings.with_overrides(
        STAYSAGA_CLIENT_ID="worker-payments", STAYSAGA_CLIENT_SECRET=SECRETS["worker-payments"]
    )
    fetch = client_credentials(settings, HttpxTransport(auth.client))
    token, lifetime = await fetch(audience("payments"), "payments:charge")
    who = await auth.verifier("payments").verify(token)
    assert who.has("payments:charge")
    assert lifetime == claims_of(token)["exp"] - claims_of(token)["iat"]


def test_the_common_models_read_the_servers_contract():
    answer = api.TokenResponse(
        access_token="a.b.c", token_type="Bearer", expires_in=600, scope="payments:charge"
    )
    assert IssuedToken.model_validate_json(answer.model_dump_json()) == IssuedToken(
        access_token="a.b.c", expires_in=600
    )
    for name, field in IssuedToken.model_fields.items():
        assert name in api.TokenResponse.model_fields, f"the server answers no {name}"
        assert api.TokenResponse.model_fields[name].is_required() or not field.is_required()
    keys = api.JsonWebKeySet(keys=[{"kty": "EC", "crv": "P-256", "x": "x", "y": "y"}])
    assert KeySetDocument.model_validate_json(keys.model_dump_json()).keys == keys.keys


async def test_the_servers_key_set_is_one_common_code_reads(auth):
    published = await auth.client.get(api.JWKS_PATH)
    document = KeySetDocument.model_validate_json(published.content)
    assert document.keys and api.JsonWebKeySet.model_validate(document.model_dump()).keys
