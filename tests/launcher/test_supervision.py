"""The launcher's supervision, on tiny child processes: crash loops back off without
stopping the rest, and a frozen process is noticed and replaced."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import httpx
import pytest

from services.common.settings import Settings
from staysaga.children import Child, http_probe
from staysaga.stack import Stack
from tests.support.harness import eventually, free_port, settings_for

# Answers every GET with its pid, so a test can tell a restarted process from the first.
SERVER = """
import http.server, os, sys

class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = str(os.getpid()).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass

http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
"""

FAST = {
    "STAYSAGA_RESTART_MAX_DELAY_SECONDS": "0.2",
    "STAYSAGA_PROBE_INTERVAL_SECONDS": "0.2",
    "STAYSAGA_PROBE_TIMEOUT_SECONDS": "0.5",
    "STAYSAGA_PROBE_FAILURES": "3",
}


class TinyStack(Stack):
    """A Stack of the test's own children, with nothing to prepare."""

    def __init__(self, settings: Settings, children: list[Child]) -> None:
        self.lines: list[str] = []
        super().__init__(settings, out=self.lines.append)
        self._planned = children

    def plan(self) -> list[Child]:
        """The test's children."""
        return self._planned

    async def prepare(self) -> None:
        """Nothing: tiny children need no secrets and no catalogue."""
        return None

    @property
    def output(self) -> str:
        """Everything the launcher printed so far."""
        return "\n".join(self.lines)

    def count(self, text: str) -> int:
        """How many printed lines hold `text`."""
        return sum(text in line for line in self.lines)


def _server(tmp_path: Path, name: str = "healthy") -> tuple[Child, str]:
    script = tmp_path / "server.py"
    script.write_text(SERVER)
    url = f"http://127.0.0.1:{free_port()}"
    argv = [sys.executable, str(script), url.rpartition(":")[2]]
    return Child(name, argv, http_probe(url + "/healthz")), url


async def _pid_answering(url: str) -> int:
    async with httpx.AsyncClient(timeout=1.0) as http:
        response = await http.get(url + "/healthz")
    assert response.status_code == 200
    return int(response.text)


async def _started(stack: TinyStack) -> asyncio.Task[int]:
    running = asyncio.create_task(stack.run())

    async def up() -> None:
        assert not running.done(), stack.output
        assert "staysaga is up. Open:" in stack.output

    await eventually(up, timeout=30)
    return running


async def _stopped(stack: TinyStack, running: asyncio.Task[int]) -> int:
    # What Ctrl-C does; the launcher ends promptly, whatever its watchers were doing.
    stack.stopping.set()
    return await asyncio.wait_for(running, 5)


async def test_a_crash_looping_child_is_degraded_and_retried_while_the_rest_run(tmp_path):
    healthy, url = _server(tmp_path)
    looping = Child("looping", [sys.executable, "-c", "import sys; sys.exit(3)"])
    stack = TinyStack(settings_for(tmp_path, FAST), [healthy, looping])
    running = await _started(stack)
    try:
        first_pid = await _pid_answering(url)

        async def retried_past_any_limit() -> None:
            assert not running.done(), stack.output
            assert stack.count("looping is degraded (exited ") >= 8

        await eventually(retried_past_any_limit, timeout=30)
        assert "looping exited with status 3; restarting in 0.2 s" in stack.output
        assert "retrying in 0.2 s" in stack.output
        assert "giving up" not in stack.output
        # The healthy child was never touched.
        assert await _pid_answering(url) == first_pid
        assert "healthy exited" not in stack.output and "healthy stopped" not in stack.output
    finally:
        status = await _stopped(stack, running)
    assert status == 0, stack.output
    assert "stopped; every process has exited" in stack.output
    assert healthy.process is not None and healthy.process.returncode is not None


async def test_a_frozen_child_is_killed_and_a_new_one_answers(tmp_path):
    healthy, url = _server(tmp_path)
    stack = TinyStack(settings_for(tmp_path, FAST), [healthy])
    running = await _started(stack)
    try:
        frozen = await _pid_answering(url)
        os.kill(frozen, signal.SIGSTOP)

        async def replaced() -> None:
            assert not running.done(), stack.output
            assert await _pid_answering(url) != frozen
            assert "healthy is ready again" in stack.output

        await eventually(replaced, timeout=20)
        assert "healthy stopped answering (3 liveness probes in a row failed" in stack.output
        assert not _is_child_of_this_test(frozen)
    finally:
        status = await _stopped(stack, running)
    assert status == 0, stack.output


async def test_a_child_that_fails_while_first_starting_still_stops_the_stack(tmp_path):
    healthy, _ = _server(tmp_path)
    failing = Child(
        "failing",
        [sys.executable, "-c", "import sys; sys.exit(4)"],
        http_probe(f"http://127.0.0.1:{free_port()}/healthz"),
    )
    stack = TinyStack(settings_for(tmp_path, FAST), [healthy, failing])
    assert await asyncio.wait_for(stack.run(), 60) == 1
    assert "error: failing exited with status 4 while starting" in stack.output
    assert healthy.process is not None and healthy.process.returncode is not None


def _children() -> set[int]:
    return {
        int(pid)
        for pid in os.listdir("/proc")
        if pid.isdigit() and _is_child_of_this_test(int(pid))
    }


@pytest.fixture(autouse=True)
def _no_leftovers():
    # Children of this process from before the test (a browser driver that other tests
    # share, say) are not the test's.
    before = _children()
    yield
    assert not _children() - before


def _is_child_of_this_test(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return False
    return int(stat[1]) == os.getpid() and stat[0] != "Z"


async def test_children_start_side_by_side_each_once_what_it_names_answers(tmp_path):
    script = tmp_path / "server.py"
    script.write_text(SERVER)

    def server(name: str, before: str = "", after: tuple[str, ...] = ()) -> tuple[Child, str]:
        port = free_port()
        code = f"{before}\nimport runpy, sys\nsys.argv = ['server', '{port}']\n"
        code += f"runpy.run_path({str(script)!r}, run_name='__main__')\n"
        url = f"http://127.0.0.1:{port}"
        return Child(
            name, [sys.executable, "-c", code], http_probe(url + "/healthz"), after=after
        ), url

    slow, slow_url = server("slow", "import time; time.sleep(1.5)")
    # It exits at once (failing `up`) unless `slow` already answers when it starts.
    checks = f"import sys, urllib.request\nurllib.request.urlopen({slow_url + '/healthz'!r})"
    dependent, _ = server("dependent", checks, after=("slow",))
    independent, _ = server("independent")
    stack = TinyStack(settings_for(tmp_path, FAST), [slow, dependent, independent])
    running = await _started(stack)
    try:
        said = [line.partition("|")[2].split() for line in stack.lines]
        order = [words[0] for words in said if words[1:] == ["is", "ready"]]
        # The one that waits for nobody does not queue behind the slow one.
        assert order == ["independent", "slow", "dependent"]
        # Once up, it says where the start went: when each process answered, the CPU time
        # and memory each took, and what that CPU time alone takes on this machine.
        table = stack.output.split("start-up (memory: PSS counts", 1)[1]
        table = table.split("staysaga is up")[0]
        rows = {
            words[0]: words[1:]
            for line in table.splitlines()
            if "MB" in line and (words := line.partition("|")[2].split())
        }
        assert set(rows) == {"slow", "dependent", "independent", "staysaga", "total"}
        # `dependent` started only once `slow` answered (after its 1.5 s nap).
        assert float(rows["dependent"][0]) > float(rows["slow"][0]) >= 1.5
        assert "CPU-seconds, at least" in table
    finally:
        status = await _stopped(stack, running)
    assert status == 0, stack.output
