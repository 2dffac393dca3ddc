"""Runs the real `staysaga up` on free ports (end-to-end tests, fault drills), and finds its
processes."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

from components.registry import COMPONENTS, WORKERS
from staysaga.children import distinct_ports, quiet_port
from staysaga.forkserver import stack_component

MARKER = "STAYSAGA_TEST_STACK"  # the variable marking one stack's processes
# The last line `up` prints once everything answers (the links come before it).
READY_LINE = "Press Ctrl-C to stop everything."


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _stack_port() -> int:
    # Below the ephemeral range: the many connections of a starting stack cannot take
    # one of its ports before the process that listens there binds it.
    return quiet_port()


class StackProcess:
    """One `staysaga up` child process, with its output collected as it comes; it may be
    stopped and started again on the same ports and var dir."""

    def __init__(
        self, var_dir: Path, extra_env: dict[str, str] | None = None, scaled: bool = False
    ) -> None:
        self.var_dir = var_dir
        self.marker = uuid.uuid4().hex
        self.scaled = scaled
        self.env = {**os.environ, **self._ports(), **(extra_env or {})}
        self.env.update(
            {MARKER: self.marker, "STAYSAGA_VAR_DIR": str(var_dir), "STAYSAGA_LOG_FORMAT": "text"}
        )
        if scaled:
            # Databases of its own on the shared PostgreSQL server (drop_databases).
            self.env.setdefault("SCALED_DATABASE_PREFIX", f"stack_{self.marker[:12]}")
        self.lines: list[str] = []
        self.process: subprocess.Popen[str] | None = None
        self._started_at_line = 0

    @staticmethod
    def _ports() -> dict[str, str]:
        # Each a port of its own: two picks of the quiet range may land on the same port,
        # which is free until the first of the two binds it.
        port = distinct_ports(_stack_port, set())
        env = {f"{c.name.upper()}_PORT": str(port()) for c in COMPONENTS.values()}
        env["MAILSINK_SMTP_PORT"] = str(port())
        for queue in WORKERS:
            env[f"WORKER_{queue.upper()}_HEALTH_PORT"] = str(port())
            env[f"WORKER_{queue.upper()}_METRICS_PORT"] = str(port())
        env["TEMPORAL_ADDRESS"] = f"127.0.0.1:{port()}"
        env["TEMPORAL_UI_PORT"] = str(port())
        env["TEMPORAL_METRICS_PORT"] = str(port())
        env["PROMETHEUS_PORT"] = str(port())
        return env

    def url(self, component: str) -> str:
        """Base URL of a component of this stack."""
        return f"http://127.0.0.1:{self.env[f'{component.upper()}_PORT']}"

    def start(self) -> StackProcess:
        """Launch `staysaga up`; returns at once."""
        self._started_at_line = len(self.lines)
        argv = [sys.executable, "-m", "staysaga.cli", "up"]
        if self.scaled:
            argv.append("--scaled")
        self.process = subprocess.Popen(  # noqa: S603 - our own CLI
            argv,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        threading.Thread(target=self._read, args=(self.process,), daemon=True).start()
        return self

    def _read(self, process: subprocess.Popen[str]) -> None:
        assert process.stdout is not None
        for line in process.stdout:
            self.lines.append(line.rstrip("\n"))

    @property
    def output(self) -> str:
        """Everything printed so far."""
        return "\n".join(self.lines)

    def wait_for_line(self, text: str, timeout: float = 120.0) -> None:
        """Poll the output since the last start until a line contains `text`; fail if the
        launcher exits first."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(text in line for line in self.lines[self._started_at_line :]):
                return
            assert self.process is not None
            if self.process.poll() is not None:
                raise AssertionError(f"`up` exited {self.process.returncode}:\n{self.output}")
            time.sleep(0.05)
        raise AssertionError(f"no line with {text!r} after {timeout} s:\n{self.output}")

    def stop(self, sig: signal.Signals = signal.SIGINT, timeout: float = 60.0) -> int:
        """Send a signal to the launcher and wait for it to exit."""
        assert self.process is not None
        self.process.send_signal(sig)
        return self.process.wait(timeout)

    def drop_databases(self) -> list[str]:
        """Once stopped, drop a scaled stack's PostgreSQL databases; the ones dropped."""
        if not self.scaled:
            return []
        from components.settings import load_settings
        from services.common.settings import ScaledSettings
        from staysaga.scaled import drop_databases

        scaled = load_settings(self.env).of(ScaledSettings)
        return asyncio.run(drop_databases(scaled.postgres_server, scaled.database_prefix))

    def processes(self) -> dict[int, str]:
        """pid -> component of every live process carrying this stack's marker."""
        return processes_with(f"{MARKER}={self.marker}")


def processes_with(entry: str) -> dict[int, str]:
    """Live processes whose environment holds `entry` (a fork of the stack's fork server
    holds the server's), with the component each runs."""
    found = {}
    needle = entry.encode()
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            environ = (proc / "environ").read_bytes().split(b"\0")
            state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if needle in environ and state != "Z":
            found[int(proc.name)] = stack_component(int(proc.name)) or "launcher"
    return found


def kill_quietly(pids: dict[int, str]) -> None:
    """SIGKILL leftovers so a failed test does not leak processes into the next."""
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
