"""After sign-up the new account is signed in through the same code + PKCE flow: the
authorization request carries Users' sign-up ticket, bound to the request's challenge."""

import pytest

from tests.services.auth import conftest
from tests.services.auth.conftest import CALLBACK, callback_params, claims_of, pkce_verifier, s256


def _request(verifier: str, ticket: str) -> dict[str, str]:
    return {
        "response_type": "code",
        "client_id": "web",
        "redirect_uri": CALLBACK,
        "scope": "documents:read",
        "resource": "urn:staysaga:pdf",
        "state": "state-of-the-website",
        "code_challenge": s256(verifier),
        "code_challenge_method": "S256",
        "signup_ticket": ticket,
    }


@pytest.fixture
def new_account(monkeypatch: pytest.MonkeyPatch) -> str:
    """A verifier whose challenge Users made a sign-up ticket for."""
    verifier = pkce_verifier()
    tickets = {"ticket-of-new-account": (s256(verifier), "user-new")}
    monkeypatch.setattr(conftest, "SIGNUP_TICKETS", tickets)
    return verifier


async def test_a_sign_up_ticket_signs_the_new_account_in_without_the_form(auth, new_account):
    page = await auth.client.get(
        "/oauth2/authorize", params=_request(new_account, "ticket-of-new-account")
    )
    assert page.status_code == 302, page.text
    back = callback_params(page)
    assert back["state"] == "state-of-the-website"
    # The ticket never travels on: the code is the website's, for its own verifier.
    assert "signup_ticket" not in page.headers["location"]
    tokens = await auth.exchange(back["code"], new_account)
    assert tokens.status_code == 200, tokens.text
    assert claims_of(tokens.json()["access_token"])["sub"] == "user-new"


async def test_a_ticket_for_another_sign_in_shows_the_form_instead(auth, new_account):
    # Someone holding the ticket starts a sign-in of their own (their own verifier).
    thief = pkce_verifier()
    page = await auth.client.get(
        "/oauth2/authorize", params=_request(thief, "ticket-of-new-account")
    )
    assert page.status_code == 400
    assert "location" not in page.headers
    assert "please sign in" in page.text
    assert "ticket-of-new-account" not in page.text
    assert 'name="password"' in page.text


async def test_a_code_from_a_ticket_needs_the_verifier(auth, new_account):
    page = await auth.client.get(
        "/oauth2/authorize", params=_request(new_account, "ticket-of-new-account")
    )
    tokens = await auth.exchange(callback_params(page)["code"], pkce_verifier())
    assert tokens.status_code == 400


async def test_a_malformed_ticket_is_refused_by_name(auth, new_account):
    page = await auth.client.get(
        "/oauth2/authorize", params=_request(new_account, "ticket with spaces")
    )
    assert page.status_code == 400
    assert "signup_ticket" in page.text
