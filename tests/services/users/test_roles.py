"""Roles: every account is a traveller; `staysaga users grant-operator` makes an operator."""

import asyncio
import os
import subprocess
import sys

from services.users.domain import grant_role
from tests.services.users.conftest import PASSWORD


async def _roles(world, email: str) -> list[str]:
    response = await world.client.post(
        "/credentials/check",
        json={"email": email, "password": PASSWORD},
        headers=world.auth_service(),
    )
    assert response.status_code == 200, response.text
    return response.json()["roles"]


def _cli(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "USERS_DATABASE_URL": database_url}
    return subprocess.run(
        [sys.executable, "-m", "staysaga.cli", "users", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


async def test_a_new_account_is_a_traveller_only(world):
    await world.register("new@example.com")
    assert await _roles(world, "new@example.com") == ["traveller"]


async def test_an_operator_signs_in_with_the_operator_role_and_granting_again_is_fine(world):
    account = await world.register("ops@example.com")
    await world.register("other@example.com")
    for _ in range(2):
        granted = await grant_role(world.app.state.engine, "ops@example.com", "operator")
        assert granted == account["id"]
    assert await _roles(world, "ops@example.com") == ["traveller", "operator"]
    assert await _roles(world, "other@example.com") == ["traveller"]
    assert await grant_role(world.app.state.engine, "nobody@example.com", "operator") is None


async def test_the_cli_grants_the_operator_role(world, database_url):
    await world.register("cli-ops@example.com")
    done = await asyncio.to_thread(_cli, database_url, "grant-operator", " CLI-Ops@example.com")
    assert done.returncode == 0, done.stderr
    assert "cli-ops@example.com" in done.stdout
    assert await _roles(world, "cli-ops@example.com") == ["traveller", "operator"]


async def test_the_cli_refuses_an_unknown_account_in_one_line(world, database_url):
    done = await asyncio.to_thread(_cli, database_url, "grant-operator", "ghost@example.com")
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "staysaga users: no account has the e-mail address ghost@example.com"
    ]
    bad = await asyncio.to_thread(_cli, database_url, "grant-operator", "not an address")
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1
