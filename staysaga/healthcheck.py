"""The container image's health check: asks the container's own process for its /healthz.

One image runs every component, and the command picks the role (`staysaga serve <component>`,
`staysaga worker <queue>`), so the check reads that command from the main process's command
line (PID 1 in a container) and probes the port the role's settings give it: a service's
`<NAME>_PORT`, a worker's `WORKER_<QUEUE>_HEALTH_PORT`. Exit 0 healthy, 1 not; a command
with no health endpoint (`seed`, `replay`, ...) counts as healthy while it runs.

Run as `python -m staysaga.healthcheck` (the Dockerfile's HEALTHCHECK).
"""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path

from components.registry import COMPONENTS, WORKERS
from components.settings import load_settings
from temporal.names import TaskQueue

MAIN_PROCESS_CMDLINE = Path("/proc/1/cmdline")
TIMEOUT_SECONDS = 4.0


def health_port(command: Sequence[str], env: Mapping[str, str]) -> int | None:
    """The port of /healthz for a `staysaga` command line (None: a command without one)."""
    for i, word in enumerate(command[:-1]):
        role = command[i + 1]
        if word == "serve" and role in COMPONENTS:
            return load_settings(env).port(role)
        if word == "worker" and role in {q.value for q in WORKERS}:
            return load_settings(env).worker_health_port(TaskQueue(role).value)
    return None


def probe(port: int, timeout: float = TIMEOUT_SECONDS) -> bool:
    """Whether http://127.0.0.1:<port>/healthz answers 200 within `timeout` seconds."""
    url = f"http://127.0.0.1:{port}/healthz"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - http only
            return int(response.status) == 200
    except (urllib.error.URLError, OSError, ValueError):
        return False


def main_process_command(path: Path = MAIN_PROCESS_CMDLINE) -> list[str]:
    """The main process's command line, word by word."""
    return [word.decode() for word in path.read_bytes().split(b"\0") if word]


def main(command: Sequence[str] | None = None, env: Mapping[str, str] | None = None) -> int:
    """Probe the role's /healthz; 0 healthy, 1 not (the reason on stderr)."""
    words = list(command) if command is not None else main_process_command()
    port = health_port(words, os.environ if env is None else env)
    if port is None:
        return 0
    if probe(port):
        return 0
    print(f"staysaga healthcheck: no 200 from /healthz on port {port}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
