"""A stack started for a benchmark: `staysaga up` (or `up --scaled`) on free loopback ports
in a folder of its own, the baseline's workers beside it on the same Temporal server, and
the CPU each of its processes has used so far."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from components.registry import COMPONENTS, WORKERS
from components.settings import load_settings
from services.common.settings import ScaledSettings, Settings
from staysaga.bench_workers import READY
from staysaga.children import quiet_port
from staysaga.forkserver import stack_component
from staysaga.memory import cpu_seconds, descendants


def _free_port() -> int:
    # Below the ephemeral range: a connection of the stack itself cannot take it first.
    return quiet_port()


@dataclass
class RunningStack:
    """A `staysaga up` child process and the settings that reach it."""

    process: subprocess.Popen[str]
    settings: Settings
    env: dict[str, str]
    scaled: bool = False
    lines: list[str] = field(default_factory=list)

    def wait_until_up(self, timeout: float = 240.0) -> None:
        """Block until the launcher prints that everything answers."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any("staysaga is up" in line for line in self.lines):
                return
            if self.process.poll() is not None:
                raise RuntimeError("`staysaga up` exited:\n" + "\n".join(self.lines[-40:]))
            time.sleep(0.1)
        raise RuntimeError("the stack did not come up in time:\n" + "\n".join(self.lines[-40:]))

    def stop(self) -> None:
        """Ctrl-C the launcher and wait for every child to go (and a scaled stack's
        databases with them)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            self.process.wait(60)
        if self.scaled:
            from staysaga.scaled import drop_databases

            scaled = self.settings.of(ScaledSettings)
            asyncio.run(drop_databases(scaled.postgres_server, scaled.database_prefix))


def start_stack(
    var_dir: Path, extra_env: dict[str, str] | None = None, scaled: bool = False
) -> RunningStack:
    """Launch `staysaga up` (`up --scaled`, on databases of its own) with every port
    free-picked and state under `var_dir`."""
    env = {**os.environ, "STAYSAGA_VAR_DIR": str(var_dir), "STAYSAGA_LOG_LEVEL": "warning"}
    if scaled:
        env["SCALED_DATABASE_PREFIX"] = f"bench_{uuid.uuid4().hex[:12]}"
    for component in COMPONENTS.values():
        env[f"{component.name.upper()}_PORT"] = str(_free_port())
        env.pop(f"{component.name.upper()}_URL", None)
    env["MAILSINK_SMTP_PORT"] = str(_free_port())
    for queue in WORKERS:
        env[f"WORKER_{queue.upper()}_HEALTH_PORT"] = str(_free_port())
        env[f"WORKER_{queue.upper()}_METRICS_PORT"] = str(_free_port())
    env["TEMPORAL_ADDRESS"] = f"127.0.0.1:{_free_port()}"
    env["TEMPORAL_UI_PORT"] = str(_free_port())
    env["TEMPORAL_METRICS_PORT"] = str(_free_port())
    env["PROMETHEUS_PORT"] = str(_free_port())
    env.update(extra_env or {})
    argv = [sys.executable, "-m", "staysaga.cli", "up", *(["--scaled"] if scaled else [])]
    process = subprocess.Popen(  # noqa: S603 - our own CLI
        argv,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    stack = RunningStack(process, load_settings(env), env, scaled=scaled)

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            stack.lines.append(line.rstrip("\n"))

    threading.Thread(target=read, daemon=True).start()
    return stack


def start_baseline_workers(env: dict[str, str]) -> subprocess.Popen[str]:
    """The baseline's workers, in a process of their own on the stack's Temporal server;
    returns once they poll."""
    process = subprocess.Popen(  # noqa: S603 - our own module
        [sys.executable, "-m", "staysaga.bench_workers"],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    seen: list[str] = []
    for line in process.stdout:
        if line.strip() == READY:
            # Keep draining its output, so that it never blocks on a full pipe.
            threading.Thread(target=process.stdout.read, daemon=True).start()
            return process
        seen.append(line.rstrip("\n"))
    process.wait()
    raise RuntimeError("the baseline's workers exited:\n" + "\n".join(seen[-40:]))


def _label(pid: int) -> str:
    """A stack process's name as `up` names it (`search`, `worker-booking+codec`,
    `temporal`), else its `staysaga` command or its program."""
    component = stack_component(pid)
    if component is not None:
        return component
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
    except OSError:
        return str(pid)
    if "staysaga.cli" in argv:
        return " ".join(argv[argv.index("staysaga.cli") + 1 :]).strip()
    return Path(argv[0]).name or str(pid)


def stack_cpu(root: int) -> dict[str, float]:
    """CPU seconds used so far by each process under `root` (empty where /proc is absent)."""
    used: dict[str, float] = {}
    for pid in descendants(root):
        seconds = cpu_seconds(pid)
        if seconds is not None:
            used[_label(pid)] = used.get(_label(pid), 0.0) + seconds
    return used
