"""`staysaga up`: the whole local stack as supervised child processes.

Each component runs as its own process with its output prefixed by its name. A process
starts only when what it depends on answers; a component that dies is restarted with
backoff; SIGINT or SIGTERM stops every child (process group included), newest first.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import signal
import socket
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

import httpx

from services.common.settings import COMPONENTS, Settings
from staysaga.components import SERVICE_APPS, workers_to_run
from staysaga.secrets import OAUTH_CLIENTS, StackSecrets
from temporal.client import wait_for_temporal
from temporal.devserver import dev_server_args

STOP_GRACE_SECONDS = 10.0
READY_TIMEOUT_SECONDS = 120.0
MAX_RESTARTS = 5
RESTART_WINDOW_SECONDS = 60.0
_PR_SET_PDEATHSIG = 1
_COLOURS = (36, 33, 32, 35, 34, 31, 96, 93, 92, 95, 94)

Probe = Callable[[], Awaitable[None]]


class StackError(RuntimeError):
    """The stack cannot start or keep running; the message says why."""


@dataclass
class Child:
    """A supervised process of the stack."""

    name: str
    argv: list[str]
    probe: Probe | None = None
    restart: bool = True
    process: asyncio.subprocess.Process | None = None
    restarts: list[float] = field(default_factory=list)
    pump: asyncio.Task[None] | None = None


def _die_with_parent() -> None:
    # Children live in their own session (so a terminal's Ctrl-C reaches only us and we stop
    # them in order), and the kernel sends them SIGTERM should the launcher itself be killed.
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def _port_is_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def http_probe(url: str) -> Probe:
    """A probe that passes when `url` answers 200."""

    async def probe() -> None:
        async with httpx.AsyncClient(timeout=2.0) as client:
            response = await client.get(url)
        if response.status_code != 200:
            raise StackError(f"{url} answered {response.status_code}")

    return probe


class Stack:
    """Starts, watches and stops the children of `staysaga up`."""

    def __init__(self, settings: Settings, out: Callable[[str], None] | None = None) -> None:
        self.settings = settings
        self.children: list[Child] = []
        self.stopping = asyncio.Event()
        self.failure: str | None = None
        self._write = out or (lambda line: print(line, flush=True))
        self._colour = sys.stdout.isatty()
        self._width = 14
        self.secrets: StackSecrets | None = None

    def say(self, text: str) -> None:
        """A line from the launcher itself."""
        self._write(self._prefix("staysaga", 0) + text)

    def _prefix(self, name: str, index: int) -> str:
        label = f"{name:<{self._width}}|"
        if self._colour:
            return f"\x1b[{_COLOURS[index % len(_COLOURS)]}m{label}\x1b[0m "
        return label + " "

    def plan(self) -> list[Child]:
        """The children to run, in start order."""
        python = sys.executable
        cli = [python, "-m", "staysaga.cli"]
        children: list[Child] = []
        if self.settings["TEMPORAL_DEV_SERVER"]:
            db_file = (self.settings.var_dir / "temporal.db").resolve()
            ui = f"http://127.0.0.1:{self.settings['TEMPORAL_UI_PORT']}/"
            children.append(
                Child("temporal", dev_server_args(self.settings, db_file), self._temporal_probe(ui))
            )
        for name in SERVICE_APPS:
            children.append(
                Child(name, [*cli, "serve", name], http_probe(self.settings.url(name) + "/readyz"))
            )
        # Workers come last: Temporal and the services they call already answer.
        for queue in workers_to_run():
            children.append(Child(f"worker-{queue}", [*cli, "worker", queue]))
        return children

    def _temporal_probe(self, ui_url: str) -> Probe:
        async def probe() -> None:
            await wait_for_temporal(self.settings, timeout=0.5)
            await http_probe(ui_url)()

        return probe

    def check_ports(self, children: Sequence[Child]) -> None:
        """Refuse to start if a port we need is taken, naming the variable that sets it."""
        wanted: list[tuple[str, int]] = []
        if any(c.name == "temporal" for c in children):
            port = int(self.settings["TEMPORAL_ADDRESS"].rpartition(":")[2])
            wanted += [
                ("TEMPORAL_ADDRESS", port),
                ("TEMPORAL_UI_PORT", self.settings["TEMPORAL_UI_PORT"]),
            ]
        wanted += [
            (f"{c.name.upper()}_PORT", self.settings.port(c.name))
            for c in children
            if c.name in COMPONENTS
        ]
        for variable, port in wanted:
            if not _port_is_free(self.settings.host, port):
                raise StackError(
                    f"port {port} is already in use ({variable}); stop what holds it "
                    f"(another `staysaga up`?) or set {variable} to another port"
                )

    async def _spawn(self, child: Child, index: int) -> None:
        env = {**os.environ, "PYTHONUNBUFFERED": "1", "STAYSAGA_COMPONENT": child.name}
        if self.secrets is not None:
            # Each child is its own OAuth 2 client: the component name, or worker-<queue>.
            client_id = child.name if child.name in OAUTH_CLIENTS else None
            env.update(self.secrets.child_env(client_id))
        if self._colour and not os.environ.get("STAYSAGA_LOG_FORMAT"):
            # A person is reading the terminal: one readable line a record, not JSON.
            env["STAYSAGA_LOG_FORMAT"] = "text"
        child.process = await asyncio.create_subprocess_exec(
            *child.argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            env=env,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
        child.pump = asyncio.create_task(self._pump(child, child.process, index))

    async def _pump(self, child: Child, process: asyncio.subprocess.Process, index: int) -> None:
        assert process.stdout is not None
        prefix = self._prefix(child.name, index + 1)
        async for raw in process.stdout:
            self._write(prefix + raw.decode(errors="replace").rstrip("\n"))

    async def _wait_ready(self, child: Child) -> None:
        if child.probe is None:
            return
        deadline = time.monotonic() + READY_TIMEOUT_SECONDS
        last_error: Exception | None = None
        while time.monotonic() < deadline:
            assert child.process is not None
            if child.process.returncode is not None:
                raise StackError(
                    f"{child.name} exited with status {child.process.returncode} while starting"
                )
            try:
                await child.probe()
                return
            except Exception as exc:
                last_error = exc
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.stopping.wait(), 0.2)
                if self.stopping.is_set():
                    return
        raise StackError(
            f"{child.name} did not become ready in {READY_TIMEOUT_SECONDS:.0f} s: {last_error}"
        )

    async def run(self) -> int:
        """Start everything, print where to click, supervise until told to stop."""
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self.stopping.set)
        children = self.plan()
        self._width = max(len(c.name) for c in [*children, Child("staysaga", [])]) + 1
        try:
            self.check_ports(children)
            self.settings.var_dir.mkdir(parents=True, exist_ok=True)
            self.secrets = StackSecrets.load(self.settings.var_dir)
            await self._seed()
            for index, child in enumerate(children):
                if self.stopping.is_set():
                    break
                self.children.append(child)
                await self._spawn(child, index)
                await self._wait_ready(child)
                if not self.stopping.is_set():
                    self.say(f"{child.name} is ready")
            if not self.stopping.is_set():
                self._print_urls()
                await self._supervise()
        except StackError as exc:
            self.failure = str(exc)
        finally:
            await self._stop_all()
        if self.failure:
            self.say(f"error: {self.failure}")
            return 1
        self.say("stopped; every process has exited")
        return 0

    async def _seed(self) -> None:
        self.say("seeding the catalogue (first start only) ...")
        seeder = Child("seed", [sys.executable, "-m", "staysaga.cli", "seed"], restart=False)
        await self._spawn(seeder, len(self.children) + 1)
        assert seeder.process is not None and seeder.pump is not None
        status = await seeder.process.wait()
        await seeder.pump
        if status != 0:
            raise StackError(f"`staysaga seed` failed with status {status}")

    def _print_urls(self) -> None:
        s = self.settings
        links: list[tuple[str, str]] = []
        if "web" in SERVICE_APPS:
            links.append(("website", f"{s.url('web')}/"))
        if s["TEMPORAL_DEV_SERVER"] or s["TEMPORAL_UI_URL"]:
            namespace = s["TEMPORAL_NAMESPACE"]
            links.append(("Temporal UI", f"{s.temporal_ui_url}/namespaces/{namespace}/workflows"))
        if "mailsink" in SERVICE_APPS:
            links.append(("mail inbox", f"{s.url('mailsink')}/"))
        for name in SERVICE_APPS:
            if name not in ("web", "mailsink"):
                links.append((f"{COMPONENTS[name].title} API", f"{s.url(name)}/docs"))
        width = max(len(label) for label, _ in links)
        lines = ["", "staysaga is up. Open:"]
        lines += [f"  {label:<{width}}  {url}" for label, url in links]
        lines += ["Press Ctrl-C to stop everything.", ""]
        for line in lines:
            self.say(line)

    async def _supervise(self) -> None:
        while not self.stopping.is_set():
            waits = {asyncio.create_task(c.process.wait()): c for c in self.children if c.process}
            stop = asyncio.create_task(self.stopping.wait())
            done, _ = await asyncio.wait({stop, *waits}, return_when=asyncio.FIRST_COMPLETED)
            for task in [stop, *waits]:
                if task not in done:
                    task.cancel()
            if stop in done:
                return
            for task in done:
                await self._restart(waits[task])

    async def _restart(self, child: Child) -> None:
        assert child.process is not None
        status = child.process.returncode
        if not child.restart:
            raise StackError(f"{child.name} exited with status {status}")
        now = time.monotonic()
        child.restarts = [t for t in child.restarts if now - t < RESTART_WINDOW_SECONDS]
        if len(child.restarts) >= MAX_RESTARTS:
            raise StackError(
                f"{child.name} exited {MAX_RESTARTS} times within "
                f"{RESTART_WINDOW_SECONDS:.0f} s; giving up"
            )
        delay = min(0.5 * 2 ** len(child.restarts), 8.0)
        child.restarts.append(now)
        self.say(f"{child.name} exited with status {status}; restarting in {delay:.1f} s")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.stopping.wait(), delay)
        if self.stopping.is_set():
            return
        await self._spawn(child, self.children.index(child))
        await self._wait_ready(child)
        if not self.stopping.is_set():
            self.say(f"{child.name} is ready again")

    async def _stop_all(self) -> None:
        if self.children:
            self.say("stopping ...")
        for child in reversed(self.children):
            await self._stop(child)

    async def _stop(self, child: Child) -> None:
        process = child.process
        if process is None:
            return
        if process.returncode is None:
            _signal_group(process.pid, signal.SIGTERM)
            try:
                await asyncio.wait_for(process.wait(), STOP_GRACE_SECONDS)
            except TimeoutError:
                self.say(f"{child.name} ignored SIGTERM for {STOP_GRACE_SECONDS:.0f} s; killing it")
                _signal_group(process.pid, signal.SIGKILL)
                await process.wait()
        # Grandchildren left in the group (none expected) go too.
        _signal_group(process.pid, signal.SIGKILL)
        if child.pump is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(child.pump, 2.0)


def _signal_group(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)
