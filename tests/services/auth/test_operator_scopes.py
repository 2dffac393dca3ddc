"""Operator scopes: issued only to operators, and only when the sign-in asks for them."""

from __future__ import annotations

from services.common.auth import audience
from tests.services.auth.conftest import callback_params, claims_of, pkce_verifier

OPERATOR = ("grace@example.com", "operator horse battery")
TRAVELLER = ("ada@example.com", "correct horse battery")
OPS_SIGN_IN = "profile reservations:read ops:read ops:write"


async def _tokens(auth, account: tuple[str, str], scope: str) -> dict:
    verifier = pkce_verifier()
    email, password = account
    redirect = await auth.sign_in(email, password, verifier, extra={"scope": scope})
    assert redirect.status_code == 302, redirect.text
    response = await auth.exchange(callback_params(redirect)["code"], verifier)
    assert response.status_code == 200, response.text
    return response.json()


async def test_an_operator_who_asks_gets_the_operator_scopes_and_keeps_them_on_refresh(auth):
    tokens = await _tokens(auth, OPERATOR, OPS_SIGN_IN)
    assert set(tokens["scope"].split()) == set(OPS_SIGN_IN.split())
    assert set(claims_of(tokens["access_token"])["scope"].split()) == set(OPS_SIGN_IN.split())
    renewed = await auth.refresh(tokens["refresh_token"])
    assert renewed.status_code == 200, renewed.text
    assert {"ops:read", "ops:write"} <= set(
        claims_of(renewed.json()["access_token"])["scope"].split()
    )


async def test_a_traveller_who_asks_for_operator_scopes_gets_a_travellers_token(auth):
    tokens = await _tokens(auth, TRAVELLER, OPS_SIGN_IN)
    granted = set(claims_of(tokens["access_token"])["scope"].split())
    assert granted == {"profile", "reservations:read"}
    assert tokens["scope"] == claims_of(tokens["access_token"])["scope"]
    renewed = await auth.refresh(tokens["refresh_token"])
    assert "ops:read" not in claims_of(renewed.json()["access_token"])["scope"]


async def test_an_operator_who_does_not_ask_gets_no_operator_scope(auth):
    asked = await _tokens(auth, OPERATOR, "profile reservations:read")
    assert set(claims_of(asked["access_token"])["scope"].split()) == {
        "profile",
        "reservations:read",
    }
    default = await _tokens(auth, OPERATOR, "")
    assert "ops:" not in claims_of(default["access_token"])["scope"]


async def test_no_client_gets_operator_scopes_for_itself(auth):
    response = await auth.client_token("web", "ops:read", audience("reservations"))
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_scope"
