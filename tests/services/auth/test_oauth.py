"""The authorization server over HTTP: client credentials, PKCE, refresh rotation,
revocation, introspection, metadata and sign-in protection."""

from __future__ import annotations

import pytest

from services.auth.keys import ACCESS_TOKEN_TTL
from services.common.auth import TokenRejected, audience
from tests.services.auth.conftest import (
    CALLBACK,
    FAILURES_PER_ADDRESS,
    SECRETS,
    callback_params,
    claims_of,
    pkce_verifier,
    s256,
)


async def test_client_credentials_token_is_an_rfc9068_jwt_a_service_accepts(auth):
    response = await auth.client_token("worker-payments", "payments:charge", audience("payments"))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert body["scope"] == "payments:charge"
    assert 0 < body["expires_in"] <= 15 * 60
    assert "refresh_token" not in body
    assert response.headers["cache-control"] == "no-store"
    claims = claims_of(body["access_token"])
    assert claims["aud"] == "urn:staysaga:payments"
    assert claims["sub"] == claims["client_id"] == "worker-payments"
    assert claims["exp"] - claims["iat"] <= 15 * 60
    assert {"iss", "jti", "scope"} <= claims.keys()
    who = await auth.verifier("payments").verify(body["access_token"])
    assert who.is_service and who.has("payments:charge")
    with pytest.raises(TokenRejected):
        await auth.verifier("reservations").verify(body["access_token"])


async def test_a_wrong_client_secret_is_refused(auth):
    response = await auth.client_token(
        "worker-payments", "payments:charge", audience("payments"), secret="guess"
    )
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


async def test_an_unknown_client_is_refused(auth):
    response = await auth.client.post(
        "/oauth2/token",
        data={"grant_type": "client_credentials", "resource": audience("payments")},
        auth=("mallory", "x"),
    )
    assert response.status_code == 401


async def test_a_scope_outside_the_clients_table_is_refused(auth):
    response = await auth.client_token(
        "worker-payments", "payments:charge reservations:write", audience("payments")
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_scope"


async def test_a_client_credentials_token_needs_a_known_resource(auth):
    missing = await auth.client_token("worker-payments", "payments:charge", None)
    assert missing.json()["error"] == "invalid_target"
    unknown = await auth.client_token("worker-payments", "payments:charge", "urn:evil:x")
    assert unknown.json()["error"] == "invalid_target"


async def test_pkce_flow_end_to_end_gives_tokens_the_services_accept(auth):
    verifier = pkce_verifier()
    redirect = await auth.sign_in(verifier=verifier)
    assert redirect.status_code == 302, redirect.text
    params = callback_params(redirect)
    assert params["state"] == "state-123"
    exchanged = await auth.exchange(params["code"], verifier)
    assert exchanged.status_code == 200, exchanged.text
    tokens = exchanged.json()
    assert tokens["refresh_token"]
    claims = claims_of(tokens["access_token"])
    assert claims["sub"] == "user-ada" and claims["client_id"] == "web"
    assert claims["scope"] == "profile reservations:read"
    assert audience("reservations") in claims["aud"] and audience("pdf") in claims["aud"]
    # A token for several services (a list `aud`) verifies in each of them.
    who = await auth.verifier("reservations").verify(tokens["access_token"])
    assert who.subject == "user-ada" and not who.is_service
    await auth.verifier("payments").verify(tokens["access_token"])


async def test_a_code_works_once(auth):
    verifier = pkce_verifier()
    code = callback_params(await auth.sign_in(verifier=verifier))["code"]
    assert (await auth.exchange(code, verifier)).status_code == 200
    again = await auth.exchange(code, verifier)
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"


async def test_the_sign_in_page_is_an_accessible_form(auth):
    verifier = pkce_verifier()
    page = await auth.client.get(
        "/oauth2/authorize",
        params={
            "response_type": "code",
            "client_id": "web",
            "redirect_uri": CALLBACK,
            "code_challenge": s256(verifier),
            "code_challenge_method": "S256",
        },
    )
    assert page.status_code == 200
    assert '<label for="email">' in page.text and '<label for="password">' in page.text
    assert 'name="csrf_token"' in page.text
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]


async def test_the_sign_in_page_looks_like_the_site_and_links_sign_up_and_reset(auth):
    verifier = pkce_verifier()
    page = await auth.client.get(
        "/oauth2/authorize",
        params={
            "response_type": "code",
            "client_id": "web",
            "redirect_uri": CALLBACK,
            "code_challenge": s256(verifier),
            "code_challenge_method": "S256",
        },
    )
    website = auth.settings.url("web").rstrip("/")
    assert f'<a class="brand" href="{website}/">staysaga</a>' in page.text
    assert f'href="{website}/signup"' in page.text
    assert f'href="{website}/account/forgot-password"' in page.text
    assert "--accent:#0b5cad" in page.text  # the website's colours


async def test_plain_pkce_is_refused(auth):
    verifier = pkce_verifier()
    response = await auth.client.get(
        "/oauth2/authorize",
        params={
            "response_type": "code",
            "client_id": "web",
            "redirect_uri": CALLBACK,
            "state": "s",
            "code_challenge": verifier,
            "code_challenge_method": "plain",
        },
    )
    assert response.status_code == 302
    assert callback_params(response)["error"] == "invalid_request"


async def test_an_authorization_request_without_pkce_is_refused(auth):
    response = await auth.client.get(
        "/oauth2/authorize",
        params={"response_type": "code", "client_id": "web", "redirect_uri": CALLBACK},
    )
    assert response.status_code == 302
    assert callback_params(response)["error"] == "invalid_request"


async def test_a_foreign_redirect_uri_gets_a_page_not_a_redirect(auth):
    verifier = pkce_verifier()
    response = await auth.client.get(
        "/oauth2/authorize",
        params={
            "response_type": "code",
            "client_id": "web",
            "redirect_uri": "https://evil.example/cb",
            "code_challenge": s256(verifier),
            "code_challenge_method": "S256",
        },
    )
    assert response.status_code == 400
    assert "location" not in response.headers


async def test_a_code_needs_its_verifier(auth):
    verifier = pkce_verifier()
    code = callback_params(await auth.sign_in(verifier=verifier))["code"]
    missing = await auth.exchange(code, None)
    assert missing.status_code == 400 and missing.json()["error"] == "invalid_request"
    code = callback_params(await auth.sign_in(verifier=verifier))["code"]
    wrong = await auth.exchange(code, pkce_verifier())
    assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_grant"


async def test_refresh_tokens_rotate(auth):
    first = await auth.code_tokens()
    renewed = await auth.refresh(first["refresh_token"])
    assert renewed.status_code == 200, renewed.text
    second = renewed.json()
    assert second["refresh_token"] != first["refresh_token"]
    assert claims_of(second["access_token"])["sub"] == "user-ada"
    assert claims_of(second["access_token"])["aud"] == claims_of(first["access_token"])["aud"]
    third = await auth.refresh(second["refresh_token"])
    assert third.status_code == 200


async def test_reusing_a_refresh_token_revokes_its_whole_family(auth):
    first = await auth.code_tokens()
    second = (await auth.refresh(first["refresh_token"])).json()
    replay = await auth.refresh(first["refresh_token"])
    assert replay.status_code == 400 and replay.json()["error"] == "invalid_grant"
    # The thief or the traveller: whoever holds the newest token has lost it too.
    after = await auth.refresh(second["refresh_token"])
    assert after.status_code == 400
    # Another sign-in (another family) is untouched.
    other = await auth.code_tokens()
    assert (await auth.refresh(other["refresh_token"])).status_code == 200


async def test_revoking_a_refresh_token_ends_its_family(auth):
    tokens = await auth.code_tokens()
    revoked = await auth.client.post(
        "/oauth2/revoke",
        data={"token": tokens["refresh_token"], "token_type_hint": "refresh_token"},
        auth=("web", SECRETS["web"]),
    )
    assert revoked.status_code == 200
    assert (await auth.refresh(tokens["refresh_token"])).status_code == 400


async def test_only_the_owning_client_may_revoke(auth):
    tokens = await auth.code_tokens()
    response = await auth.client.post(
        "/oauth2/revoke",
        data={"token": tokens["refresh_token"]},
        auth=("users", SECRETS["users"]),
    )
    assert response.status_code == 400
    assert (await auth.refresh(tokens["refresh_token"])).status_code == 200


async def test_introspection_reports_active_then_revoked_access_tokens(auth, introspector):
    token = (
        await auth.client_token("worker-documents", "documents:render", audience("pdf"))
    ).json()["access_token"]
    seen = await auth.client.post(
        "/oauth2/introspect", data={"token": token}, auth=("pdf", SECRETS["pdf"])
    )
    assert seen.status_code == 200
    body = seen.json()
    assert body["active"] is True
    assert body["client_id"] == "worker-documents" and body["scope"] == "documents:render"
    await auth.client.post(
        "/oauth2/revoke",
        data={"token": token, "token_type_hint": "access_token"},
        auth=("worker-documents", SECRETS["worker-documents"]),
    )
    after = await auth.client.post(
        "/oauth2/introspect", data={"token": token}, auth=("pdf", SECRETS["pdf"])
    )
    assert after.json() == {"active": False}


async def test_introspection_needs_an_authenticated_client(auth, introspector):
    response = await auth.client.post("/oauth2/introspect", data={"token": "whatever"})
    assert response.status_code == 401
    unknown = await auth.client.post(
        "/oauth2/introspect", data={"token": "whatever"}, auth=("pdf", SECRETS["pdf"])
    )
    assert unknown.json() == {"active": False}


async def test_introspection_of_a_refresh_token(auth, introspector):
    tokens = await auth.code_tokens()
    body = (
        await auth.client.post(
            "/oauth2/introspect",
            data={"token": tokens["refresh_token"], "token_type_hint": "refresh_token"},
            auth=(introspector, SECRETS[introspector]),
        )
    ).json()
    assert body["active"] is True and body["sub"] == "user-ada"
    assert body["token_type"] == "refresh_token"


async def test_metadata_describes_the_server(auth):
    response = await auth.client.get("/.well-known/oauth-authorization-server")
    assert response.status_code == 200
    meta = response.json()
    issuer = auth.settings.auth_issuer
    assert meta["issuer"] == issuer
    assert meta["token_endpoint"] == issuer + "/oauth2/token"
    assert meta["jwks_uri"] == issuer + "/.well-known/jwks.json"
    assert meta["code_challenge_methods_supported"] == ["S256"]
    assert set(meta["grant_types_supported"]) == {
        "authorization_code",
        "refresh_token",
        "client_credentials",
    }
    assert "payments:charge" in meta["scopes_supported"]
    assert meta["revocation_endpoint"] and meta["introspection_endpoint"]


async def test_jwks_publishes_public_keys_only(auth):
    keys = (await auth.client.get("/.well-known/jwks.json")).json()["keys"]
    assert keys and all(k["kty"] == "EC" and k["kid"] and "d" not in k for k in keys)


async def test_wrong_password_and_unknown_account_look_the_same(auth):
    wrong = await auth.sign_in(password="nope")
    unknown = await auth.sign_in(email="nobody@example.com", password="nope")
    assert wrong.status_code == unknown.status_code == 401
    alert = wrong.text.split('role="alert"')[1].split("</p>")[0]
    assert alert == unknown.text.split('role="alert"')[1].split("</p>")[0]
    assert "location" not in wrong.headers


async def test_wrong_passwords_slow_that_account_down_from_that_address(auth):
    for _ in range(3):
        assert (await auth.sign_in(password="nope")).status_code == 401
    slowed = await auth.sign_in()  # even the right password waits now, from here
    assert slowed.status_code == 429
    assert 0 < int(slowed.headers["retry-after"]) <= 60
    assert "location" not in slowed.headers


async def test_a_guesser_elsewhere_never_keeps_the_owner_out(auth):
    guesser = auth.at("203.0.113.7")
    for _ in range(10):
        assert (await guesser.sign_in(password="nope")).status_code in (401, 429)
    assert (await guesser.sign_in()).status_code == 429
    assert (await auth.sign_in()).status_code == 302


async def test_failures_on_other_accounts_do_not_slow_an_address_down(auth):
    for n in range(10):
        response = await auth.sign_in(email=f"guess{n}@example.com", password="nope")
        assert response.status_code == 401
    assert (await auth.sign_in()).status_code == 302


async def test_guessing_across_many_accounts_from_one_address_is_slowed_down(auth):
    for n in range(FAILURES_PER_ADDRESS.amount):
        response = await auth.sign_in(email=f"guess{n}@example.com", password="nope")
        assert response.status_code == 401
    refused = await auth.sign_in(email="one-more@example.com", password="nope")
    assert refused.status_code == 429
    assert 0 < int(refused.headers["retry-after"]) <= 3600
    assert refused.headers["content-type"].startswith("text/html")
    assert "location" not in refused.headers
    # Even a right password waits behind that address; a clean address signs in.
    assert (await auth.sign_in()).status_code == 429
    assert (await auth.at("203.0.113.9").sign_in()).status_code == 302


async def test_a_right_password_forgets_the_failures_before_it(auth):
    for _ in range(2):
        assert (await auth.sign_in(password="nope")).status_code == 401
    assert (await auth.sign_in()).status_code == 302
    for _ in range(2):
        assert (await auth.sign_in(password="nope")).status_code == 401
    assert (await auth.sign_in()).status_code == 302


async def test_a_sign_in_without_the_csrf_cookie_is_refused(auth):
    verifier = pkce_verifier()
    response = await auth.client.post(
        "/oauth2/authorize",
        data={
            "response_type": "code",
            "client_id": "web",
            "redirect_uri": CALLBACK,
            "code_challenge": s256(verifier),
            "code_challenge_method": "S256",
            "csrf_token": "forged",
            "email": "ada@example.com",
            "password": "correct horse battery",
        },
    )
    assert response.status_code == 400
    assert "location" not in response.headers


async def test_a_csrf_pair_the_attacker_chose_is_refused(auth):
    # Whoever can set a cookie for the auth host can send any value twice: the field must
    # be a MAC of the cookie under the server's key.
    verifier = pkce_verifier()
    auth.client.cookies.set("staysaga_auth_csrf", "chosen", path="/oauth2/authorize")
    response = await auth.client.post(
        "/oauth2/authorize",
        data={
            "response_type": "code",
            "client_id": "web",
            "redirect_uri": CALLBACK,
            "code_challenge": s256(verifier),
            "code_challenge_method": "S256",
            "csrf_token": "chosen",
            "email": "ada@example.com",
            "password": "correct horse battery",
        },
    )
    assert response.status_code == 400
    assert "location" not in response.headers
    assert (await auth.sign_in()).status_code == 302  # the page's own pair still works


@pytest.mark.parametrize(
    "headers",
    [{"Sec-Fetch-Site": "cross-site"}, {"Origin": "https://evil.example"}],
    ids=["fetch-metadata", "origin"],
)
async def test_a_sign_in_posted_from_another_site_is_refused_even_with_a_good_pair(auth, headers):
    # The attacker opened the page for a good pair and planted its cookie: the browser
    # still names the attacker's site.
    auth.client.headers.update(headers)
    refused = await auth.sign_in()
    assert refused.status_code == 400
    assert "location" not in refused.headers
    own = {"Sec-Fetch-Site": "same-origin", "Origin": str(auth.client.base_url)}
    auth.client.headers.update(own)
    assert (await auth.sign_in()).status_code == 302


async def test_access_tokens_live_at_most_fifteen_minutes():
    assert ACCESS_TOKEN_TTL.total_seconds() <= 15 * 60


async def test_users_being_down_is_not_a_wrong_password(auth):
    auth.app.state.connections["users"].base_url = "http://users.test/broken"
    for _ in range(4):
        response = await auth.sign_in()
        assert response.status_code == 503
        assert "location" not in response.headers
    auth.app.state.connections["users"].base_url = "http://users.test"
    assert (await auth.sign_in()).status_code == 302


async def test_a_sign_in_without_scope_grants_what_a_traveller_may_give(auth):
    redirect = await auth.sign_in(extra={"scope": ""})
    code = callback_params(redirect)["code"]
    assert code


async def test_a_service_client_cannot_use_the_websites_grants(auth):
    response = await auth.client.post(
        "/oauth2/token",
        data={"grant_type": "refresh_token", "refresh_token": "x"},
        auth=("worker-payments", SECRETS["worker-payments"]),
    )
    assert response.status_code == 400
    assert response.json()["error"] == "unauthorized_client"


async def test_the_website_cannot_take_traveller_scopes_for_itself(auth):
    response = await auth.client_token("web", "payments:read", audience("payments"))
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_scope"


async def test_two_refreshes_racing_with_one_token_never_both_succeed(auth):
    import asyncio

    tokens = await auth.code_tokens()
    results = await asyncio.gather(*(auth.refresh(tokens["refresh_token"]) for _ in range(4)))
    assert sum(r.status_code == 200 for r in results) <= 1


async def test_the_openapi_document_describes_oauth_forms_and_errors(auth):
    """Fuzzing found OAuth's JSON errors and the sign-in error pages documented as problems."""
    paths = (await auth.client.get("/openapi.json")).json()["paths"]
    token = paths["/oauth2/token"]["post"]
    assert "application/x-www-form-urlencoded" in token["requestBody"]["content"]
    assert set(token["responses"]["400"]["content"]) == {"application/json"}
    refused = await auth.client.post("/oauth2/token", data={"grant_type": "nonsense"})
    assert refused.headers["content-type"].startswith("application/json")
    page = paths["/oauth2/authorize"]["get"]
    assert {p["name"] for p in page["parameters"]} >= {"client_id", "code_challenge"}
    assert set(page["responses"]["400"]["content"]) == {"text/html"}
    assert "content" not in page["responses"]["302"]
    assert "302" in paths["/oauth2/authorize"]["post"]["responses"]
