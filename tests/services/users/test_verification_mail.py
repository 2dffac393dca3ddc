"""The verification e-mail, again: for an account whose address is not verified yet."""

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from services.users.tables import outbox
from tests.services.users.test_accounts import _token_from


async def _resend(world, user_id, headers=None):
    return await world.client.post(
        f"/users/{user_id}/verification-email", headers=headers or world.website()
    )


async def _age_the_outbox(world):
    async with world.app.state.engine.begin() as conn:
        await conn.execute(
            outbox.update().values(created_at=datetime.now(UTC) - timedelta(minutes=2))
        )


async def test_the_verification_link_is_mailed_again_and_works(world, sink):
    user = await world.register("again@example.com")
    await sink.wait_for("again@example.com")
    await _age_the_outbox(world)
    response = await _resend(world, user["id"])
    assert response.status_code == 202, response.text
    assert response.json() == {"status": "accepted"}
    _, mail = await sink.wait_for("again@example.com", count=2)
    assert mail["subject"] == "Confirm your e-mail address"
    token = _token_from(mail, "/account/verify-email")
    verified = await world.client.post(
        "/email-verifications", json={"token": token}, headers=world.website()
    )
    assert verified.json()["email_verified"] is True
    assert (await _resend(world, user["id"])).json() == {"status": "already-verified"}


async def test_asking_again_within_a_minute_mails_nothing_more(world, sink):
    user = await world.register("patient@example.com")
    await sink.wait_for("patient@example.com")
    for _ in range(3):
        assert (await _resend(world, user["id"])).status_code == 202
    async with world.app.state.engine.connect() as conn:
        queued = await conn.scalar(sa.select(sa.func.count()).where(outbox.c.user_id == user["id"]))
    assert queued == 1


async def test_only_the_website_may_ask_and_only_for_an_account(world):
    user = await world.register("owner@example.com")
    assert (await _resend(world, "nobody")).status_code == 404
    mine = await _resend(world, user["id"], headers=world.traveller(user["id"]))
    assert mine.status_code == 403
