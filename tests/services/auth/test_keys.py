"""Signing-key rotation without downtime: services keep accepting old and new tokens."""

from __future__ import annotations

from datetime import timedelta

from services.auth.keys import RETIRED_KEY_GRACE, jwks, load_keys, now_utc, rotate_keys
from services.auth.tables import signing_keys
from services.common.auth import audience
from tests.services.auth.conftest import claims_of


async def _token(auth) -> str:
    response = await auth.client_token("worker-payments", "payments:read", audience("payments"))
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


def _kid(token: str) -> str:
    import base64
    import json

    head = token.split(".")[0]
    return json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))["kid"]


async def test_rotation_publishes_the_new_key_before_it_signs(auth):
    engine = auth.app.state.engine
    service = auth.verifier("payments")
    before = await _token(auth)
    await service.verify(before)  # the service has cached the key set now

    new_kid = await rotate_keys(engine)  # published now, signing in two minutes
    auth.app.state.oauth.keyring.forget()  # as if its cache had aged (KEY_CACHE_SECONDS)
    published = {k["kid"] for k in (await auth.client.get("/.well-known/jwks.json")).json()["keys"]}
    assert {new_kid, _kid(before)} <= published
    still_old = await _token(auth)
    assert _kid(still_old) == _kid(before)
    await service.verify(still_old)

    # Two minutes on, the new key signs (moved its activation instead of the clock, so iat
    # stays real). The service's cached set is older than its refetch interval by then, so
    # the unknown kid makes it fetch again.
    async with engine.begin() as conn:
        await conn.execute(
            signing_keys.update()
            .where(signing_keys.c.kid == new_kid)
            .values(activates_at=now_utc() - timedelta(seconds=1))
        )
        await conn.execute(
            signing_keys.update()
            .where(signing_keys.c.kid == _kid(before))
            .values(activates_at=now_utc() - timedelta(hours=1))
        )
    service.jwks._fetched_at -= 180
    auth.app.state.oauth.keyring.forget()
    after = await _token(auth)
    assert _kid(after) == new_kid
    assert (await service.verify(after)).subject == "worker-payments"
    # A token signed before the rotation is still good until it expires.
    assert (await service.verify(before)).token_id == claims_of(before)["jti"]


async def test_a_service_that_never_saw_the_old_key_accepts_both(auth):
    engine = auth.app.state.engine
    before = await _token(auth)
    await rotate_keys(engine, publish_ahead=timedelta(0))
    auth.app.state.oauth.keyring.forget()
    after = await _token(auth)
    assert _kid(after) != _kid(before)
    fresh = auth.verifier("payments")
    await fresh.verify(before)
    await fresh.verify(after)


async def test_a_retired_key_leaves_the_jwks_once_its_tokens_have_expired(auth):
    engine = auth.app.state.engine
    old = _kid(await _token(auth))
    await rotate_keys(engine, publish_ahead=timedelta(0))
    keys = await load_keys(engine)
    soon = now_utc() + timedelta(minutes=5)
    assert old in {k["kid"] for k in jwks(keys, soon)["keys"]}
    gone = now_utc() + RETIRED_KEY_GRACE + timedelta(seconds=5)
    assert old not in {k["kid"] for k in jwks(keys, gone)["keys"]}
    # The next rotation after that deletes it for good.
    await rotate_keys(engine, publish_ahead=timedelta(0), now=gone)
    assert old not in {k.kid for k in await load_keys(engine)}


def test_the_cli_rotates_keys(tmp_path):
    import os
    import subprocess
    import sys

    env = {**os.environ, "STAYSAGA_VAR_DIR": str(tmp_path)}
    for _ in range(2):
        done = subprocess.run(
            [sys.executable, "-m", "staysaga.cli", "auth", "rotate-keys"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        assert "new signing key" in done.stdout
    assert (tmp_path / "auth.db").exists()
