"""The Secret `staysaga` of a cluster, as an env file for `kubectl create secret generic
--from-env-file`: fresh values for every secret staysaga makes itself (each OAuth client's,
the Temporal UI's among them,
the authorization server's list of them, the shared keys), and a line to fill for each one
the platform supplies (database URLs, the Redis counters, the SMTP login).

    python -m staysaga.cluster_secrets FILE     # writes FILE (mode 0600); prints nothing secret
"""

from __future__ import annotations

import json
import os
import secrets
import sys
from pathlib import Path

from components.registry import oauth_clients, sign_in_clients
from components.settings import generated_secrets
from staysaga import manifests
from staysaga.secrets import CLIENT_REGISTRY_VARIABLE, client_secret_variable


def generated_values() -> dict[str, str]:
    """Fresh values for every secret staysaga makes itself."""
    every = [*oauth_clients(), *sign_in_clients()]
    clients = {client: secrets.token_urlsafe(32) for client in every}
    values = {client_secret_variable(c): secret for c, secret in clients.items()}
    values[CLIENT_REGISTRY_VARIABLE] = json.dumps(clients)
    for variable in generated_secrets():
        assert variable.generate is not None
        values[variable.name] = variable.generate()
    return values


def platform_keys() -> dict[str, str]:
    """The keys the platform supplies, each with what it holds; (optional) ones may stay out."""
    keys = {
        f"{c.name.upper()}_DATABASE_URL": f"{c.title}'s own PostgreSQL database: "
        "postgresql+asyncpg://USER:PASSWORD@HOST:5432/DB"
        for c in manifests.deployed_components()
        if c.has_database
    }
    for variable in manifests.SHARED_COUNTERS.values():
        keys[variable] = "counters shared by every copy: redis://:PASSWORD@HOST:6379/0"
    keys["SMTP_USERNAME"] = "the SMTP relay's login (optional)"
    keys["SMTP_PASSWORD"] = "the SMTP relay's password (optional)"  # noqa: S105 - a meaning
    keys["TEMPORAL_API_KEY"] = "Temporal Cloud's API key (optional: a self-hosted cluster)"
    return keys


def env_file() -> str:
    """The file's text: generated values, then commented lines for the platform's keys."""
    lines = ["# The Secret `staysaga` (docs/DEPLOY.md#secrets). Keep private; delete when loaded."]
    lines += [f"{name}={value}" for name, value in generated_values().items()]
    lines.append("# Fill these in (uncomment each line):")
    lines += [f"# {name}=    {meaning}" for name, meaning in platform_keys().items()]
    return "\n".join(lines) + "\n"


def write(path: Path) -> None:
    """Write the env file, readable by its owner only; refuse to overwrite one."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(env_file())


def main(argv: list[str]) -> int:
    """`python -m staysaga.cluster_secrets FILE`; 2 with one line for a bad call."""
    if len(argv) != 1:
        print("usage: python -m staysaga.cluster_secrets FILE", file=sys.stderr)
        return 2
    try:
        write(Path(argv[0]))
    except FileExistsError:
        print(f"staysaga.cluster_secrets: {argv[0]} exists; choose a new file", file=sys.stderr)
        return 2
    print(f"wrote {argv[0]}: fill in the commented keys, then load it (docs/DEPLOY.md)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
