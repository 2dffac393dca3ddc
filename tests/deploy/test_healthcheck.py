"""The image's health check: the role's port from the main process's command line, and a
real /healthz asked."""

from __future__ import annotations

import asyncio
import os
import socket
import sys
from pathlib import Path

from staysaga.healthcheck import health_port, main, main_process_command
from temporal.health import serve_health
from tests.support.harness import eventually

PYTHON = "/opt/staysaga/bin/python"
STAYSAGA = "/opt/staysaga/bin/staysaga"


def test_a_service_is_probed_on_its_registry_port_or_the_one_its_environment_sets():
    command = [PYTHON, STAYSAGA, "serve", "search"]
    assert health_port(command, {}) == 8003
    assert health_port(command, {"SEARCH_PORT": "9123"}) == 9123


def test_a_worker_is_probed_on_its_health_port_not_its_metrics_port():
    command = [PYTHON, STAYSAGA, "worker", "payments"]
    assert health_port(command, {}) == 8103
    assert health_port(command, {"WORKER_PAYMENTS_HEALTH_PORT": "9124"}) == 9124


def test_a_command_without_a_health_endpoint_has_no_port():
    assert health_port([PYTHON, STAYSAGA, "seed"], {}) is None
    assert health_port([PYTHON, STAYSAGA, "serve", "nonsense"], {}) is None


def test_the_command_line_is_read_word_by_word(tmp_path):
    cmdline = tmp_path / "cmdline"
    cmdline.write_bytes(b"/opt/staysaga/bin/python\0/opt/staysaga/bin/staysaga\0worker\0booking\0")
    assert main_process_command(cmdline) == [PYTHON, STAYSAGA, "worker", "booking"]


async def test_a_worker_answering_its_health_endpoint_is_healthy_and_a_silent_one_is_not():
    server = await serve_health("127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    env = {"WORKER_DOCUMENTS_HEALTH_PORT": str(port)}
    command = ["staysaga", "worker", "documents"]
    try:
        assert await asyncio.to_thread(main, command, env) == 0
    finally:
        server.close()
        await server.wait_closed()
    assert await asyncio.to_thread(main, command, env) == 1


async def test_a_running_service_is_healthy_and_one_that_stopped_is_not(tmp_path):
    # `staysaga serve codec` as the image runs it (no dev server), on a free port.
    with socket.socket() as probe_socket:
        probe_socket.bind(("127.0.0.1", 0))
        port = probe_socket.getsockname()[1]
    env = {
        **os.environ,
        "STAYSAGA_HOST": "127.0.0.1",
        "STAYSAGA_VAR_DIR": str(tmp_path),
        "TEMPORAL_DEV_SERVER": "false",
        "CODEC_PORT": str(port),
    }
    command = [str(Path(sys.executable).parent / "staysaga"), "serve", "codec"]
    process = await asyncio.create_subprocess_exec(
        *command, env=env, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL
    )
    try:

        async def healthy() -> None:
            assert process.returncode is None, f"serve codec exited {process.returncode}"
            assert await asyncio.to_thread(main, command, env) == 0

        await eventually(healthy, timeout=60)
    finally:
        process.terminate()
        await asyncio.wait_for(process.wait(), timeout=30)
    assert await asyncio.to_thread(main, command, env) == 1
