"""Malformed OAuth input is the client's error (4xx), whatever authlib would make of it."""

from __future__ import annotations

import base64

import pytest

from tests.services.auth.conftest import CALLBACK, SECRETS, pkce_verifier, s256

# Characters an OAuth error description may not hold (RFC 6749 section 5.2).
UNSAYABLE = ['"', "\\", "\n", "é"]


def _authorize_query(**changes: str) -> dict[str, str]:
    return {
        "response_type": "code",
        "client_id": "web",
        "redirect_uri": CALLBACK,
        "code_challenge": s256(pkce_verifier()),
        "code_challenge_method": "S256",
        **changes,
    }


@pytest.mark.parametrize("char", UNSAYABLE)
@pytest.mark.parametrize("name", ["redirect_uri", "resource", "response_type", "scope"])
async def test_an_authorization_request_with_an_unsayable_character_gets_a_page(auth, name, char):
    value = {"redirect_uri": CALLBACK, "resource": "urn:staysaga:users"}.get(name, "code")
    query = _authorize_query(**{name: value + char})
    response = await auth.client.get("/oauth2/authorize", params=query)
    assert response.status_code == 400, response.text
    assert "location" not in response.headers
    assert name in response.text
    form = {**query, "email": "ada@example.com", "password": "x", "csrf_token": "t"}
    submitted = await auth.client.post("/oauth2/authorize", data=form)
    assert submitted.status_code == 400, submitted.text


@pytest.mark.parametrize("char", [*UNSAYABLE, "'"])
async def test_a_token_request_for_an_unsayable_resource_is_400(auth, char):
    response = await auth.client_token(
        "worker-payments", "payments:charge", f"urn:staysaga:pay{char}ments"
    )
    assert response.status_code == 400, response.text
    assert response.json()["error"] in ("invalid_request", "invalid_target")


async def test_a_token_request_with_an_unsayable_scope_is_400(auth):
    response = await auth.client_token(
        "worker-payments", 'payments:charge"', "urn:staysaga:payments"
    )
    assert response.status_code == 400, response.text


async def test_basic_credentials_that_are_not_utf8_are_401(auth):
    credentials = base64.b64encode(b"\xff\xfe:" + SECRETS["web"].encode()).decode()
    for path in ("/oauth2/token", "/oauth2/revoke", "/oauth2/introspect"):
        response = await auth.client.post(
            path,
            data={"grant_type": "client_credentials", "token": "x"},
            headers={"Authorization": f"Basic {credentials}"},
        )
        assert response.status_code == 401, (path, response.text)
        assert response.json()["error"] == "invalid_client"
        assert response.headers["www-authenticate"].startswith("Basic")


async def test_a_sign_in_with_a_non_ascii_csrf_token_is_refused(auth):
    form = {
        **_authorize_query(),
        "csrf_token": "fórged",
        "email": "ada@example.com",
        "password": "correct horse battery",
    }
    auth.client.cookies.set("staysaga_auth_csrf", "cookie", path="/oauth2/authorize")
    response = await auth.client.post("/oauth2/authorize", data=form)
    assert response.status_code == 400, response.text
    assert "location" not in response.headers
