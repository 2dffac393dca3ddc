"""What the authorization server gives away: a replayed code undoes what it bought,
introspection is for the clients the registry names, travellers never get `reservations:write`."""

from tests.services.auth.conftest import (
    CALLBACK,
    SECRETS,
    callback_params,
    claims_of,
    pkce_verifier,
    s256,
)
from web.oauth import USER_RESOURCE, USER_SCOPES


async def _introspect(auth, token, client="pdf", hint=None):
    data = {"token": token, **({"token_type_hint": hint} if hint else {})}
    response = await auth.client.post(
        "/oauth2/introspect", data=data, auth=(client, SECRETS[client])
    )
    assert response.status_code == 200, response.text
    return response.json()


async def test_replaying_a_code_revokes_the_tokens_it_was_redeemed_for(auth, introspector):
    verifier = pkce_verifier()
    code = callback_params(await auth.sign_in(verifier=verifier))["code"]
    first = await auth.exchange(code, verifier)
    assert first.status_code == 200
    tokens = first.json()
    assert (await _introspect(auth, tokens["access_token"]))["active"] is True

    replay = await auth.exchange(code, verifier)
    assert replay.status_code == 400 and replay.json()["error"] == "invalid_grant"
    # RFC 6749 section 4.1.2: what the code bought may be in a thief's hands.
    assert await _introspect(auth, tokens["access_token"]) == {"active": False}
    hint = "refresh_token"
    assert await _introspect(auth, tokens["refresh_token"], hint=hint) == {"active": False}
    refreshed = await auth.refresh(tokens["refresh_token"])
    assert refreshed.status_code == 400 and refreshed.json()["error"] == "invalid_grant"


async def test_a_replay_revokes_only_what_its_own_code_bought(auth, introspector):
    mine = await auth.code_tokens()
    verifier = pkce_verifier()
    code = callback_params(await auth.sign_in(verifier=verifier))["code"]
    assert (await auth.exchange(code, verifier)).status_code == 200
    assert (await auth.exchange(code, verifier)).status_code == 400
    assert (await _introspect(auth, mine["access_token"]))["active"] is True
    assert (await auth.refresh(mine["refresh_token"])).status_code == 200


async def test_only_clients_the_registry_names_may_introspect(auth):
    token = (await auth.code_tokens())["access_token"]
    for client in ("pdf", "web", "worker-payments"):
        response = await auth.client.post(
            "/oauth2/introspect", data={"token": token}, auth=(client, SECRETS[client])
        )
        assert response.status_code == 403, response.text
        assert response.json()["error"] == "unauthorized_client"


async def test_a_traveller_is_never_given_reservations_write(auth):
    verifier = pkce_verifier()
    params = {
        "response_type": "code",
        "client_id": "web",
        "redirect_uri": CALLBACK,
        "scope": "reservations:read reservations:write",
        "state": "state-1",
        "code_challenge": s256(verifier),
        "code_challenge_method": "S256",
    }
    asked = await auth.client.get("/oauth2/authorize", params=params)
    assert asked.status_code == 302
    assert callback_params(asked)["error"] == "invalid_scope"
    # Asking for nothing in particular grants what a traveller may give: not that either.
    verifier = pkce_verifier()
    code = callback_params(await auth.sign_in(verifier=verifier, extra={"scope": ""}))["code"]
    granted = claims_of((await auth.exchange(code, verifier)).json()["access_token"])["scope"]
    assert "reservations:read" in granted.split()
    assert "reservations:write" not in granted.split()


async def test_the_websites_sign_in_gets_a_token_for_receipts_only(auth):
    verifier = pkce_verifier()
    extra = {"scope": USER_SCOPES, "resource": USER_RESOURCE}
    code = callback_params(await auth.sign_in(verifier=verifier, extra=extra))["code"]
    tokens = (await auth.exchange(code, verifier)).json()
    claims = claims_of(tokens["access_token"])
    assert (claims["aud"], claims["scope"]) == ("urn:staysaga:pdf", "documents:read")
    refreshed = claims_of((await auth.refresh(tokens["refresh_token"])).json()["access_token"])
    assert (refreshed["aud"], refreshed["scope"]) == ("urn:staysaga:pdf", "documents:read")
    await auth.verifier("pdf").verify(tokens["access_token"])
