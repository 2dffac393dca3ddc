"""The fork server `up` starts its Python processes from: each copy runs `staysaga.cli`
with exactly the arguments and environment it was given, in a session of its own, named
in `ps`, and its exit reaches the launcher as a subprocess's would."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from components.settings import describe_settings
from staysaga.children import kill_group
from staysaga.forkserver import (
    FORK_SERVER,
    PRELOAD,
    PRELOAD_WHILE_IDLE,
    ForkedProcess,
    ForkServer,
    stack_component,
)
from staysaga.stackprocess import processes_with
from tests.support.harness import eventually, free_port

MARKER = "STAYSAGA_TEST_FORKS"


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[ForkServer]:
    env = {
        **os.environ,
        MARKER: str(tmp_path),
        "STAYSAGA_COMPONENT": FORK_SERVER,
        "PYTHONUNBUFFERED": "1",
        # The server's own: a copy must not see it unless its request names it too.
        "STAYSAGA_LOG_LEVEL": "error",
    }
    started = await ForkServer.start(env, start_new_session=True)
    try:
        yield started
    finally:
        await started.close()


def _env(tmp_path: Path, **more: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key != "STAYSAGA_LOG_LEVEL"}
    return {**env, "STAYSAGA_VAR_DIR": str(tmp_path), "PYTHONUNBUFFERED": "1", **more}


async def _output(child: ForkedProcess) -> str:
    assert child.stdout is not None
    return (await asyncio.wait_for(child.stdout.read(), 60)).decode()


async def test_a_copy_runs_the_cli_with_the_environment_it_was_given(server, tmp_path):
    child = await server.spawn(["config"], _env(tmp_path, STAYSAGA_HOST="127.0.0.2"))
    output = await _output(child)
    assert await asyncio.wait_for(child.wait(), 30) == 0
    settings = dict(line.split("=", 1) for line in output.splitlines() if "=" in line[:60])
    assert settings["STAYSAGA_HOST"] == "127.0.0.2"
    assert settings["STAYSAGA_VAR_DIR"] == str(tmp_path)
    # The server's STAYSAGA_LOG_LEVEL=error was not in the copy's environment: the default.
    assert settings["STAYSAGA_LOG_LEVEL"] == "info"


async def test_a_copys_exit_status_reaches_the_launcher(server, tmp_path):
    child = await server.spawn(["serve", "no-such-component"], _env(tmp_path))
    output = await _output(child)
    assert await asyncio.wait_for(child.wait(), 30) == 2
    assert child.returncode == 2
    assert "no-such-component" in output


async def test_a_serving_copy_is_named_frozen_and_killed_like_any_child(server, tmp_path):
    port = free_port()
    env = _env(
        tmp_path,
        STAYSAGA_COMPONENT="mailsink",
        MAILSINK_PORT=str(port),
        MAILSINK_SMTP_PORT=str(free_port()),
    )
    child = await server.spawn(["serve", "mailsink"], env)
    try:

        async def answers() -> None:
            async with httpx.AsyncClient() as http:
                assert (await http.get(f"http://127.0.0.1:{port}/healthz")).status_code == 200

        await eventually(answers, timeout=60)
        # Named by its title in ps; found by the marker the server's environment carries.
        assert stack_component(child.pid) == "mailsink"
        assert processes_with(f"{MARKER}={tmp_path}") == {
            server.process.pid: FORK_SERVER,
            child.pid: "mailsink",
        }
        # Its own session: the launcher signals its process group.
        assert os.getpgid(child.pid) == child.pid
        os.killpg(child.pid, signal.SIGSTOP)
        with pytest.raises(httpx.TimeoutException):
            async with httpx.AsyncClient(timeout=0.5) as http:
                await http.get(f"http://127.0.0.1:{port}/healthz")
        kill_group(child.pid)
        assert await asyncio.wait_for(child.wait(), 30) == -signal.SIGKILL
    finally:
        kill_group(child.pid)


async def test_a_copy_can_still_start_once_the_server_has_loaded(server, tmp_path):
    first = await server.spawn(["config"], _env(tmp_path))
    second = await server.spawn(["config"], _env(tmp_path))
    await asyncio.gather(_output(first), _output(second))
    assert await first.wait() == 0 and await second.wait() == 0
    assert first.pid != second.pid
    assert server.running


async def test_spawning_fails_plainly_once_the_server_is_gone(server, tmp_path):
    server.process.kill()
    await server.process.wait()
    with pytest.raises(ConnectionError):
        await asyncio.wait_for(server.spawn(["config"], _env(tmp_path)), 30)
    assert not server.running


# Imports PRELOAD with the environment watched, then reports what was read and how many
# threads the process has: a copy gets its environment after the fork, and keeps only the
# thread that forked.
PROBE = """
import importlib, json, os, sys

class Watched(dict):
    read = set()
    def __getitem__(self, key):
        Watched.read.add(key)
        return super().__getitem__(key)
    def get(self, key, default=None):
        Watched.read.add(key)
        return super().get(key, default)
    def __contains__(self, key):
        Watched.read.add(key)
        return super().__contains__(key)

watched = Watched(os.environ)
os.environ = watched
for name in sys.argv[1:]:
    importlib.import_module(name)
print(json.dumps({"read": sorted(Watched.read), "threads": len(os.listdir("/proc/self/task"))}))
"""


def test_the_preloaded_code_reads_no_setting_and_starts_no_thread():
    out = subprocess.run(
        [sys.executable, "-c", PROBE, *PRELOAD, *PRELOAD_WHILE_IDLE],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    found = json.loads(out.stdout.strip().splitlines()[-1])
    # Libraries read switches of their own (locale, extensions); what a copy is given that
    # the server is not are our settings, and none of them may be read before the fork.
    ours = {name for name, _, _ in describe_settings()} | {"STAYSAGA_COMPONENT"}
    assert ours, "no settings listed"
    assert set(found["read"]) & ours == set()
    assert found["threads"] == 1
