"""Log in (code + PKCE S256), the callback, log out, sign up, CSRF."""

import base64
import hashlib
import json
import re
from urllib.parse import parse_qs, urlsplit

from sqlalchemy import select

from tests.web.conftest import Site
from tests.web.fakes import form_of
from web.tables import sessions


async def test_login_redirects_to_authorize_with_s256_challenge_and_state(site: Site):
    response = await site.client.get("/auth/login", params={"next": "/bookings"})
    assert response.status_code == 303
    location = urlsplit(response.headers["location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == (
        site.app.state.settings.url("auth") + "/oauth2/authorize"
    )
    query = {k: v[0] for k, v in parse_qs(location.query).items()}
    assert query["response_type"] == "code"
    assert query["client_id"] == "web"
    assert query["redirect_uri"] == site.app.state.settings.url("web") + "/auth/callback"
    assert query["code_challenge_method"] == "S256"
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", query["code_challenge"])
    assert len(query["state"]) >= 32
    # Only what the traveller's token is used for: their receipts, at the PDF service.
    assert query["scope"] == "documents:read"
    assert query["resource"] == "urn:staysaga:pdf"


async def test_callback_trades_the_code_with_the_verifier_and_signs_in(site: Site):
    start = await site.client.get("/auth/login", params={"next": "/bookings"})
    query = {k: v[0] for k, v in parse_qs(urlsplit(start.headers["location"]).query).items()}
    before = site.client.cookies.get("staysaga_session")
    done = await site.client.get("/auth/callback", params={"code": "good", "state": query["state"]})
    assert done.status_code == 303 and done.headers["location"] == "/bookings"
    exchange = form_of(site.services.calls["/oauth2/token"][0])
    assert exchange["grant_type"] == "authorization_code" and exchange["code"] == "good"
    digest = hashlib.sha256(exchange["code_verifier"].encode()).digest()
    assert base64.urlsafe_b64encode(digest).rstrip(b"=").decode() == query["code_challenge"]
    cookie = done.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
    assert site.client.cookies.get("staysaga_session") != before, "session id rotates at login"
    home = await site.client.get("/")
    assert "Log out" in home.text and "My bookings" in home.text


async def test_callback_with_a_bad_state_is_refused(site: Site):
    await site.client.get("/auth/login")
    response = await site.client.get("/auth/callback", params={"code": "good", "state": "forged"})
    assert response.status_code == 400
    assert "/oauth2/token" not in site.services.calls
    assert "Log out" not in (await site.client.get("/")).text


async def test_callback_without_a_login_in_progress_is_refused(site: Site):
    response = await site.client.get("/auth/callback", params={"code": "good", "state": "x"})
    assert response.status_code == 400


async def test_login_next_is_never_an_open_redirect(site: Site):
    start = await site.client.get("/auth/login", params={"next": "//evil.example/"})
    state = parse_qs(urlsplit(start.headers["location"]).query)["state"][0]
    done = await site.client.get("/auth/callback", params={"code": "good", "state": state})
    assert done.headers["location"] == "/"


async def test_logout_revokes_and_forgets_the_session(site: Site):
    await site.log_in()
    token = await site.csrf("/")
    response = await site.client.post("/auth/logout", data={"csrf_token": token})
    assert response.status_code == 303
    revoked = [form_of(r) for r in site.services.calls["/oauth2/revoke"]]
    assert {r["token_type_hint"] for r in revoked} == {"refresh_token", "access_token"}
    assert "Max-Age=0" in response.headers["set-cookie"]
    assert "Log out" not in (await site.client.get("/")).text


async def test_logout_without_csrf_token_is_refused(site: Site):
    await site.log_in()
    response = await site.client.post("/auth/logout", data={})
    assert response.status_code == 403
    assert "/oauth2/revoke" not in site.services.calls


async def test_signup_without_csrf_token_is_refused(site: Site):
    response = await site.client.post(
        "/signup", data={"email": "a@example.com", "name": "A", "password": "long enough pw"}
    )
    assert response.status_code == 403
    assert "users" not in site.services.calls


async def test_signup_creates_the_account_then_signs_it_in_with_code_and_pkce(site: Site):
    token = await site.csrf("/signup")
    response = await site.client.post(
        "/signup",
        data={
            "csrf_token": token,
            "email": "ada@example.com",
            "name": "Ada",
            "password": "correct horse battery",
            "next": "/bookings",
        },
    )
    assert response.status_code == 303
    call = site.services.calls["users"][0]
    assert call.url.path == "/users"
    assert call.headers["authorization"].startswith("Bearer ")
    assert b"ada@example.com" in call.content
    # Straight to the auth service with Users' ticket, bound to this sign-in's challenge:
    # the traveller does not type the password a second time.
    location = urlsplit(response.headers["location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == (
        site.app.state.settings.url("auth") + "/oauth2/authorize"
    )
    query = {k: v[0] for k, v in parse_qs(location.query).items()}
    sent = json.loads(call.content)
    assert query["code_challenge"] == sent["signin_challenge"]
    assert query["signup_ticket"] == f"ticket-for-{sent['signin_challenge']}"
    assert query["code_challenge_method"] == "S256"

    # The auth service answers with a code for this session's own request: signed in.
    back = await site.client.get(
        "/auth/callback", params={"state": query["state"], "code": "code-1"}
    )
    assert back.status_code == 303 and back.headers["location"] == "/bookings"
    exchange = form_of(site.services.calls["/oauth2/token"][-1])
    digest = hashlib.sha256(exchange["code_verifier"].encode()).digest()
    assert base64.urlsafe_b64encode(digest).rstrip(b"=").decode() == query["code_challenge"]
    home = await site.client.get("/")
    assert "Log out" in home.text and "Log in" not in home.text


async def test_signing_up_from_the_sign_in_page_returns_to_the_page_that_asked(site: Site):
    # The book page sends the traveller to sign in; its page links "Create an account"
    # without knowing the website's next page: the sign-in under way lends it.
    await site.client.get("/auth/login", params={"next": "/hotels/h1/book?room=r1"})
    page = await site.client.get("/signup")
    assert 'name="next" value="/hotels/h1/book?room=r1"' in page.text
    # An explicit next still wins, and an outside address never comes back.
    page = await site.client.get("/signup", params={"next": "/bookings"})
    assert 'name="next" value="/bookings"' in page.text
    await site.client.get("/auth/login", params={"next": "https://evil.example/"})
    page = await site.client.get("/signup")
    assert 'name="next" value="/"' in page.text


async def test_signup_errors_sit_next_to_their_fields(site: Site):
    token = await site.csrf("/signup")
    response = await site.client.post(
        "/signup", data={"csrf_token": token, "email": "nope", "name": "", "password": "short"}
    )
    assert response.status_code == 400
    for field in ("email", "name", "password"):
        assert f'aria-describedby="{field}-error"' in response.text
        assert f'id="{field}-error"' in response.text
    assert "short" not in response.text, "the password is never shown again"


async def test_a_name_with_control_characters_is_an_error_before_users_is_asked(site: Site):
    token = await site.csrf("/signup")
    asked = len(site.services.calls.get("users", []))
    response = await site.client.post(
        "/signup",
        data={
            "csrf_token": token,
            "email": "ada@example.com",
            "name": "Ada\u202eecalevoL",
            "password": "long enough password",
        },
    )
    assert response.status_code == 400
    assert re.search(r'id="name-error">Your name cannot contain', response.text)
    assert len(site.services.calls.get("users", [])) == asked


async def test_a_refused_sign_up_opens_with_a_summary_linking_each_field(site: Site):
    token = await site.csrf("/signup")
    response = await site.client.post(
        "/signup", data={"csrf_token": token, "email": "nope", "name": "", "password": "short"}
    )
    summary = re.search(r'<div class="error-summary".*?</div>', response.text, re.S)
    assert summary, response.text
    assert 'role="alert"' in summary.group(0) and 'tabindex="-1"' in summary.group(0)
    assert "Please fix these 3 things" in summary.group(0)
    links = re.findall(r'<a href="#(\w+)">([^<:]+):', summary.group(0))
    assert links == [("name", "Your name"), ("email", "E-mail address"), ("password", "Password")]


async def test_signup_with_a_taken_email_says_so_on_the_email_field(site: Site):
    site.services.users_status = 409
    token = await site.csrf("/signup")
    response = await site.client.post(
        "/signup",
        data={"csrf_token": token, "email": "a@example.com", "name": "A", "password": "x" * 12},
    )
    assert response.status_code == 400
    assert re.search(r'id="email-error">An account with this e-mail', response.text)


async def test_a_tampered_session_cookie_is_a_new_session(site: Site):
    await site.log_in()
    cookie = site.client.cookies.get("staysaga_session")
    site.client.cookies.clear()
    site.client.cookies.set("staysaga_session", cookie[:-2] + "xx")
    assert "Log out" not in (await site.client.get("/")).text


async def test_the_verification_link_confirms_the_address(site: Site):
    response = await site.client.get("/account/verify-email", params={"token": "good"})
    assert response.status_code == 303
    call = site.services.calls["users"][-1]
    assert call.url.path == "/email-verifications" and b'"good"' in call.content


async def test_an_expired_verification_link_says_so(site: Site):
    response = await site.client.get("/account/verify-email", params={"token": "expired"})
    assert response.status_code == 400
    assert "This link does not work" in response.text


async def test_forgot_password_answers_the_same_and_needs_csrf(site: Site):
    refused = await site.client.post("/account/forgot-password", data={"email": "a@b.example"})
    assert refused.status_code == 403
    token = await site.csrf("/account/forgot-password")
    response = await site.client.post(
        "/account/forgot-password", data={"csrf_token": token, "email": "ada@example.com"}
    )
    assert response.status_code == 303
    assert site.services.calls["users"][-1].url.path == "/password-resets"


async def test_reset_password_checks_the_length_then_changes_it(site: Site):
    page = await site.client.get("/account/reset-password", params={"token": "good"})
    assert 'name="token" value="good"' in page.text
    token = await site.csrf("/account/reset-password?token=good")
    short = await site.client.post(
        "/account/reset-password",
        data={"csrf_token": token, "token": "good", "password": "short"},
    )
    assert short.status_code == 400 and 'id="password-error"' in short.text
    done = await site.client.post(
        "/account/reset-password",
        data={"csrf_token": token, "token": "good", "password": "a much longer password"},
    )
    assert done.status_code == 303
    call = site.services.calls["users"][-1]
    assert call.url.path == "/password-resets/confirm"


async def test_forgot_password_with_a_malformed_address_names_the_field(site: Site):
    token = await site.csrf("/account/forgot-password")
    response = await site.client.post(
        "/account/forgot-password", data={"csrf_token": token, "email": "not-an-address"}
    )
    assert response.status_code == 400
    assert 'id="email-error"' in response.text
    assert all(c.url.path != "/password-resets" for c in site.services.calls.get("users", []))


async def test_browsing_and_opening_forms_stores_no_session(site: Site):
    # Only a sign-in (or a flash message) needs a row; a crawler or a visitor reading pages
    # and forms must not fill the sessions table.
    for path in ("/", "/search?city=Paris", "/signup", "/account/forgot-password"):
        page = await site.client.get(path)
        assert page.status_code == 200, path
        assert "staysaga_session" not in page.headers.get("set-cookie", ""), path
    async with site.app.state.engine.connect() as conn:
        assert (await conn.execute(select(sessions.c.id))).first() is None
    # ... and the forms still work.
    token = await site.csrf("/account/forgot-password")
    sent = await site.client.post(
        "/account/forgot-password", data={"csrf_token": token, "email": "ada@example.com"}
    )
    assert sent.status_code in (200, 303), sent.text


async def test_a_csrf_pair_an_attacker_chose_is_refused(site: Site):
    site.client.cookies.set("staysaga_csrf", "chosen")
    refused = await site.client.post(
        "/account/forgot-password", data={"csrf_token": "chosen", "email": "ada@example.com"}
    )
    assert refused.status_code == 403


async def test_a_signed_in_traveller_sent_to_log_in_goes_straight_on(site: Site):
    await site.log_in()
    again = await site.client.get("/auth/login", params={"next": "/bookings"})
    assert again.status_code == 303 and again.headers["location"] == "/bookings"
    # An operator's sign-in still asks the auth service: it grants more than a traveller's.
    operator = await site.client.get("/auth/login", params={"as": "operator"})
    assert operator.headers["location"].startswith(site.app.state.settings.url("auth"))


async def test_sign_up_is_not_offered_to_someone_signed_in(site: Site):
    await site.log_in()
    page = await site.client.get("/signup")
    assert page.status_code == 303 and page.headers["location"] == "/"


async def test_after_a_password_reset_the_signed_in_traveller_is_not_told_to_log_in(site: Site):
    token = await site.csrf("/account/reset-password?token=good")
    done = await site.client.post(
        "/account/reset-password",
        data={"csrf_token": token, "token": "good", "password": "a much longer password"},
    )
    assert done.headers["location"].startswith("/auth/login")
    await site.log_in()
    home = await site.client.get("/")
    assert "Your password is changed" in home.text
    assert "log in" not in home.text.lower().replace('href="/auth/login">log in', "")
