import re
from urllib.parse import parse_qs, urlparse

import pytest
import sqlalchemy as sa

from services.users.tables import users
from tests.services.users.conftest import PASSWORD
from tests.support.harness import problem_field
from tests.support.tokens import assert_refuses_bad_tokens


def _token_from(mail: dict, path: str) -> str:
    (link,) = re.findall(r"https://staysaga\.test" + path + r"\?token=[\w.%-]+", mail["text"])
    assert link in mail["html"]
    return parse_qs(urlparse(link).query)["token"][0]


async def _check(world, email: str, password: str):
    return await world.client.post(
        "/credentials/check",
        json={"email": email, "password": password},
        headers=world.auth_service(),
    )


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"password": "x" * 11}, "password"),
        ({"password": "x" * 129}, "password"),
        ({"email": "not-an-address"}, "email"),
        ({"email": "two@@example.com"}, "email"),
        ({"email": "zo\x01e@example.com"}, "email"),
        ({"name": "   "}, "name"),
        ({"admin": True}, "admin"),
        # Addresses a mail header would read as something else, or as two.
        ({"email": "x<a@evil.example>"}, "email"),
        ({"email": "x,y@evil.example"}, "email"),
        ({"email": "ada@example.com\r\nBcc: all@evil.example"}, "email"),
        ({"email": "a\u202e@example.com"}, "email"),
        # Names that would break a line, a header or the reading order.
        ({"name": "Ada\r\nBcc: all@evil.example"}, "name"),
        ({"name": "Ada\x00"}, "name"),
        ({"name": "Ada\u202eevil"}, "name"),
        ({"name": "Ada\u200bLovelace"}, "name"),
        ({"name": "Ada\ue000"}, "name"),
    ],
)
async def test_registration_rules_are_422_naming_the_field(world, changes, field):
    body = {"email": "zoe@example.com", "name": "Zoë", "password": PASSWORD, **changes}
    response = await world.client.post("/users", json=body, headers=world.website())
    assert response.status_code == 422, response.text
    assert problem_field(response) == field


async def test_a_rename_with_control_characters_is_refused(world):
    user = await world.register("ada@example.com")
    response = await world.client.patch(
        "/users/me", json={"name": "Ada\nLovelace"}, headers=world.traveller(user["id"])
    )
    assert response.status_code == 422, response.text
    assert problem_field(response) == "name"


@pytest.mark.parametrize("length", [12, 128])
async def test_passwords_of_12_to_128_characters_are_accepted(world, length):
    body = {"email": f"p{length}@example.com", "name": "P", "password": "é" * length}
    response = await world.client.post("/users", json=body, headers=world.website())
    assert response.status_code == 201, response.text


async def test_passwords_are_hashed_with_argon2id_and_never_returned(world):
    created = await world.register("Zoe@Example.com")
    assert created["email"] == "zoe@example.com"
    assert created["email_verified"] is False
    assert "password" not in str(created) and "hash" not in str(created)
    async with world.app.state.engine.connect() as conn:
        stored = await conn.scalar(sa.select(users.c.password_hash))
    assert stored.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert PASSWORD not in stored


async def test_a_duplicate_email_is_409_whatever_its_case(world):
    await world.register("zoe@example.com")
    body = {"email": " ZOE@example.COM ", "name": "Other", "password": PASSWORD}
    response = await world.client.post("/users", json=body, headers=world.website())
    assert response.status_code == 409
    assert response.json()["type"].endswith("/email-taken")
    assert problem_field(response) == "email"


async def test_verification_link_from_the_mail_verifies_the_address(world, sink):
    user = await world.register("verify@example.com")
    (mail,) = await sink.wait_for("verify@example.com")
    assert mail["subject"] == "Confirm your e-mail address"
    assert mail["message_id"] == f"<verify-email.{user['id']}@staysaga.local>"
    token = _token_from(mail, "/account/verify-email")

    tampered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    bad = await world.client.post(
        "/email-verifications", json={"token": tampered}, headers=world.website()
    )
    assert bad.status_code == 400 and bad.json()["type"].endswith("/invalid-link")

    verified = await world.client.post(
        "/email-verifications", json={"token": token}, headers=world.website()
    )
    assert verified.status_code == 200, verified.text
    assert verified.json()["email_verified"] is True
    me = await world.client.get("/users/me", headers=world.traveller(user["id"]))
    assert me.json()["email_verified"] is True
    checked = await _check(world, "verify@example.com", PASSWORD)
    assert checked.json() == {
        "user_id": user["id"],
        "name": "Zoë Traveller",
        "email_verified": True,
        "roles": ["traveller"],
    }


async def test_password_reset_by_mail_works_once(world, sink):
    user = await world.register("reset@example.com")
    await sink.wait_for("reset@example.com")  # the verification mail
    asked = await world.client.post(
        "/password-resets", json={"email": "RESET@example.com"}, headers=world.website()
    )
    unknown = await world.client.post(
        "/password-resets", json={"email": "nobody@example.com"}, headers=world.website()
    )
    assert asked.status_code == unknown.status_code == 202
    assert asked.json() == unknown.json() == {"status": "accepted"}

    _, mail = await sink.wait_for("reset@example.com", count=2)
    assert mail["subject"] == "Reset your staysaga password"
    token = _token_from(mail, "/account/reset-password")
    new_password = "a brand new passphrase"
    reset = await world.client.post(
        "/password-resets/confirm",
        json={"token": token, "password": new_password},
        headers=world.website(),
    )
    assert reset.status_code == 200, reset.text

    assert (await _check(world, "reset@example.com", new_password)).json()["user_id"] == user["id"]
    assert (await _check(world, "reset@example.com", PASSWORD)).status_code == 401
    again = await world.client.post(
        "/password-resets/confirm",
        json={"token": token, "password": "yet another passphrase"},
        headers=world.website(),
    )
    assert again.status_code == 400
    assert again.json()["type"].endswith("/invalid-link")
    short = await world.client.post(
        "/password-resets/confirm", json={"token": token, "password": "short"},
        headers=world.website(),
    )  # fmt: skip
    assert short.status_code == 422 and problem_field(short) == "password"


async def test_wrong_password_and_unknown_email_get_the_same_answer(world):
    await world.register("known@example.com")
    wrong = await _check(world, "known@example.com", "not the password")
    unknown = await _check(world, "unknown@example.com", "not the password")
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json()["type"].endswith("/invalid-credentials")
    strip = lambda body: {k: v for k, v in body.items() if k != "instance"}  # noqa: E731
    assert strip(wrong.json()) == strip(unknown.json())
    good = await _check(world, " KNOWN@example.com", PASSWORD)
    assert good.status_code == 200


async def test_a_traveller_reads_and_renames_only_their_own_account(world):
    mine = await world.register("mine@example.com", "Mine")
    theirs = await world.register("theirs@example.com", "Theirs")
    me = await world.client.get("/users/me", headers=world.traveller(mine["id"]))
    assert me.json() == {k: v for k, v in mine.items() if k != "signin_ticket"}
    renamed = await world.client.patch(
        "/users/me", json={"name": "Renamed"}, headers=world.traveller(mine["id"])
    )
    assert renamed.status_code == 200 and renamed.json()["name"] == "Renamed"
    refused = await world.client.patch(
        "/users/me", json={"email": "x@example.com"}, headers=world.traveller(mine["id"])
    )
    assert refused.status_code == 422 and problem_field(refused) == "email"

    reader = world.traveller(mine["id"], "users:read")
    assert (await world.client.get(f"/users/{mine['id']}", headers=reader)).status_code == 200
    assert (await world.client.get(f"/users/{theirs['id']}", headers=reader)).status_code == 404
    service = world.issuer.service_token("web", "users:read", "users")
    found = await world.client.get(
        f"/users/{theirs['id']}", headers={"Authorization": f"Bearer {service}"}
    )
    assert found.json()["name"] == "Theirs"
    as_service = world.issuer.service_token("web", "profile", "users")
    response = await world.client.get(
        "/users/me", headers={"Authorization": f"Bearer {as_service}"}
    )
    assert response.status_code == 404


@pytest.mark.parametrize(
    ("method", "path", "scope", "body"),
    [
        ("POST", "/users", "users:register", {}),
        ("GET", "/users/me", "profile", None),
        ("PATCH", "/users/me", "profile", {}),
        ("GET", "/users/u1", "users:read", None),
        ("POST", "/email-verifications", "users:register", {}),
        ("POST", "/password-resets", "users:register", {}),
        ("POST", "/password-resets/confirm", "users:register", {}),
        ("POST", "/credentials/check", "users:credentials", {}),
        ("POST", "/credentials/sign-up-tickets", "users:credentials", {}),
        ("POST", "/users/u1/messages", "users:notify", {}),
        ("GET", "/users/u1/messages/m1", "users:notify", None),
    ],
)
async def test_routes_refuse_bad_tokens(world, method, path, scope, body):
    extra = {"json": body} if body is not None else {}
    await assert_refuses_bad_tokens(
        world.client, world.issuer, method, path, scope, "users", **extra
    )


async def test_a_password_reset_for_something_that_is_not_an_address_is_422(world):
    # Longer than an address may be until trimmed: found by fuzzing the documented schema.
    for email in ("\x1e" + "x" * 330, "no-at-sign", "a\x01@example.com"):
        response = await world.client.post(
            "/password-resets", json={"email": email}, headers=world.website()
        )
        assert response.status_code == 422, (email, response.text)
        assert problem_field(response) == "email"


@pytest.mark.parametrize("path", ["/email-verifications", "/password-resets/confirm"])
async def test_a_link_token_with_a_non_ascii_signature_is_an_invalid_link(world, path):
    body = {"token": "eyJwIjoieCJ9.sïgnature", "password": PASSWORD}
    if path == "/email-verifications":
        del body["password"]
    response = await world.client.post(path, json=body, headers=world.website())
    assert response.status_code == 400, response.text
    assert response.json()["type"].endswith("/invalid-link")


CHALLENGE = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
OTHER_CHALLENGE = "x" * 43


async def _redeem(world, ticket: str, challenge: str):
    return await world.client.post(
        "/credentials/sign-up-tickets",
        json={"ticket": ticket, "code_challenge": challenge},
        headers=world.auth_service(),
    )


async def test_a_sign_up_ticket_signs_in_only_the_sign_in_with_its_challenge(world):
    body = {"email": "new@example.com", "name": "New", "password": PASSWORD}
    created = await world.client.post(
        "/users", json={**body, "signin_challenge": CHALLENGE}, headers=world.website()
    )
    assert created.status_code == 201, created.text
    ticket = created.json()["signin_ticket"]
    assert ticket

    redeemed = await _redeem(world, ticket, CHALLENGE)
    assert redeemed.status_code == 200, redeemed.text
    assert redeemed.json() == {
        "user_id": created.json()["id"],
        "name": "New",
        "email_verified": False,
        "roles": ["traveller"],
    }
    # Stolen with its link, the ticket is no good to a sign-in someone else started.
    refused = await _redeem(world, ticket, OTHER_CHALLENGE)
    assert refused.status_code == 401
    assert refused.json()["type"].endswith("/invalid-credentials")
    tampered = await _redeem(world, ticket[:-2] + "AA", CHALLENGE)
    assert tampered.status_code == 401


async def test_a_verification_link_is_not_a_sign_up_ticket(world, sink):
    await world.register("link@example.com")
    (mail,) = await sink.wait_for("link@example.com")
    token = _token_from(mail, "/account/verify-email")
    refused = await _redeem(world, token, CHALLENGE)
    assert refused.status_code == 401


async def test_a_sign_up_without_a_challenge_gets_no_ticket(world):
    created = await world.register("plain@example.com")
    assert created["signin_ticket"] is None


async def test_a_sign_in_challenge_that_is_not_s256_is_422(world):
    body = {"email": "c@example.com", "name": "C", "password": PASSWORD}
    response = await world.client.post(
        "/users", json={**body, "signin_challenge": "short"}, headers=world.website()
    )
    assert response.status_code == 422
    assert problem_field(response) == "signin_challenge"
