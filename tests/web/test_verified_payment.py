"""An unverified account may browse and hold a room, but pays only once its address is
verified; the checkout says so and offers the verification e-mail again."""

from tests.web.conftest import Site
from tests.web.test_booking import CARD, _csrf, _start_booking


def _account_reads(site: Site) -> list:
    return [r for r in site.services.calls.get("users", []) if r.method == "GET"]


async def test_an_unverified_traveller_is_asked_to_verify_instead_of_paying(site: Site):
    site.services.unverified.add("user-1")
    await site.log_in()
    booking_id = await _start_booking(site)  # holding is allowed
    page = await site.client.get(f"/bookings/{booking_id}/checkout")
    assert page.status_code == 200
    assert "Confirm your e-mail address to pay" in page.text
    assert 'action="/account/verify-email/resend"' in page.text
    assert 'autocomplete="cc-number"' not in page.text

    token = await _csrf(site, f"/bookings/{booking_id}/checkout")
    paid = await site.client.post(
        f"/bookings/{booking_id}/checkout", data={**CARD, "csrf_token": token}
    )
    assert paid.status_code == 403
    assert "Confirm your e-mail address to pay" in paid.text
    assert "bank" not in site.services.calls  # the card went nowhere
    assert site.temporal.updates == []


async def test_the_checkout_sends_the_verification_link_again(site: Site):
    site.services.unverified.add("user-1")
    await site.log_in()
    booking_id = await _start_booking(site)
    checkout = f"/bookings/{booking_id}/checkout"
    token = await _csrf(site, checkout)
    response = await site.client.post(
        "/account/verify-email/resend", data={"csrf_token": token, "next": checkout}
    )
    assert response.status_code == 303 and response.headers["location"] == checkout
    (asked,) = [r for r in site.services.calls["users"] if r.method == "POST"]
    assert asked.url.path == "/users/user-1/verification-email"
    page = await site.client.get(checkout)
    assert "We sent the confirmation link to your e-mail address again." in page.text


async def test_resending_needs_a_signed_in_traveller_and_a_csrf_token(site: Site):
    anonymous = await site.client.post("/account/verify-email/resend", data={})
    assert anonymous.status_code == 303 and "/auth/login" in anonymous.headers["location"]
    await site.log_in()
    forged = await site.client.post("/account/verify-email/resend", data={"csrf_token": "x"})
    assert forged.status_code == 403
    assert not [r for r in site.services.calls.get("users", []) if r.method == "POST"]


async def test_once_verified_the_traveller_pays_and_users_is_not_asked_again(site: Site):
    site.services.unverified.add("user-1")
    await site.log_in()
    booking_id = await _start_booking(site)
    checkout = f"/bookings/{booking_id}/checkout"
    assert "Confirm your e-mail" in (await site.client.get(checkout)).text
    # Following the e-mailed link while signed in marks the session verified.
    site.services.unverified.clear()
    assert (
        await site.client.get("/account/verify-email", params={"token": "t"})
    ).status_code == 303
    reads = len(_account_reads(site))
    token = await _csrf(site, checkout)
    paid = await site.client.post(checkout, data={**CARD, "csrf_token": token})
    assert paid.status_code == 303, paid.text
    assert len(_account_reads(site)) == reads
