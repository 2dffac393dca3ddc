"""The local stack's secrets: generated once, private, reused, overridable, handed out right."""

from __future__ import annotations

import json
import stat
import subprocess
import sys

from components.registry import oauth_clients, sign_in_clients
from staysaga.secrets import (
    SECRETS_FILE,
    SHARED_SECRETS,
    StackSecrets,
    client_secret_variable,
    ensure_secrets_file,
    make_private,
)


def test_first_start_writes_a_private_file_with_every_secret(tmp_path):
    values = ensure_secrets_file(tmp_path)
    path = tmp_path / SECRETS_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    for client in oauth_clients():
        assert len(values[client_secret_variable(client)]) >= 32
    for name in SHARED_SECRETS:
        assert values[name]
    assert len({values[client_secret_variable(c)] for c in oauth_clients()}) == len(oauth_clients())


def test_later_starts_reuse_the_file_and_fill_in_new_names(tmp_path):
    first = ensure_secrets_file(tmp_path)
    path = tmp_path / SECRETS_FILE
    kept = [line for line in path.read_text().splitlines() if "WEB_SESSION_SECRET" not in line]
    path.write_text("\n".join(kept) + "\n")
    second = ensure_secrets_file(tmp_path)
    assert second["CLIENT_SECRET_WEB"] == first["CLIENT_SECRET_WEB"]
    assert (
        second["WEB_SESSION_SECRET"] and second["WEB_SESSION_SECRET"] != first["WEB_SESSION_SECRET"]
    )


def test_each_child_gets_its_own_client_and_the_shared_secrets(tmp_path):
    secrets = StackSecrets.load(tmp_path, environ={})
    payments = secrets.child_env("worker-payments")
    search = secrets.child_env("search")
    assert payments["STAYSAGA_CLIENT_ID"] == "worker-payments"
    assert payments["STAYSAGA_CLIENT_SECRET"] != search["STAYSAGA_CLIENT_SECRET"]
    assert payments["BANK_SECRET_KEY"] == search["BANK_SECRET_KEY"]
    assert "AUTH_CLIENT_SECRETS" not in payments
    registry = json.loads(secrets.child_env("auth")["AUTH_CLIENT_SECRETS"])
    assert registry["worker-payments"] == payments["STAYSAGA_CLIENT_SECRET"]
    # The authorization server knows the processes' clients and the Temporal UI's.
    assert set(registry) == set(oauth_clients()) | set(sign_in_clients())
    assert "STAYSAGA_CLIENT_ID" not in secrets.child_env(None)


def test_the_real_environment_wins(tmp_path):
    environ = {"CLIENT_SECRET_SEARCH": "from-env", "BANK_SECRET_KEY": "sk_real"}
    secrets = StackSecrets.load(tmp_path, environ=environ)
    assert secrets.child_env("search")["STAYSAGA_CLIENT_SECRET"] == "from-env"
    assert secrets.child_env("search")["BANK_SECRET_KEY"] == "sk_real"
    assert json.loads(secrets.child_env("auth")["AUTH_CLIENT_SECRETS"])["search"] == "from-env"


def test_var_and_what_an_older_version_left_there_become_private(tmp_path):
    var_dir = tmp_path / "var"
    (var_dir / "logs").mkdir(parents=True, mode=0o755)
    var_dir.chmod(0o755)
    for name in ("auth.db", "auth.db-wal", "logs/web.log"):
        (var_dir / name).write_text("")
        (var_dir / name).chmod(0o644)
    make_private(var_dir)
    modes = {
        str(p.relative_to(tmp_path)): stat.S_IMODE(p.stat().st_mode) for p in tmp_path.rglob("*")
    }
    assert modes == {
        "var": 0o700,
        "var/logs": 0o700,
        "var/auth.db": 0o600,
        "var/auth.db-wal": 0o600,
        "var/logs/web.log": 0o600,
    }


PROBE = """
import sys
from staysaga import cli
cli.run = lambda argv: open(sys.argv[1], "w").close() or 0
cli.main([])
"""


def test_whatever_a_staysaga_process_creates_only_its_owner_reads(tmp_path):
    created = tmp_path / "created.db"
    subprocess.run([sys.executable, "-c", PROBE, str(created)], check=True, timeout=60)
    assert stat.S_IMODE(created.stat().st_mode) == 0o600
