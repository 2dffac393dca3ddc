"""A child process of `staysaga up`: what it is, how it is probed, and how its process
group is signalled.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import random
import signal
import socket
import sys
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit

from staysaga.supervision import ExitHistory

_PR_SET_PDEATHSIG = 1
EPHEMERAL_RANGE = "/proc/sys/net/ipv4/ip_local_port_range"
# Quiet ports are picked from here up to the ephemeral range: clear of the registry's.
QUIET_PORTS_FROM = 20000

Probe = Callable[[], Awaitable[None]]


STAYSAGA_CLI = (sys.executable, "-m", "staysaga.cli")
"""How `up` runs a `staysaga` command in a child of its own."""


def cli_arguments(argv: Sequence[str]) -> list[str] | None:
    """What follows `STAYSAGA_CLI` in a child's argv; None if it runs another program."""
    head = len(STAYSAGA_CLI)
    return list(argv[head:]) if tuple(argv[:head]) == STAYSAGA_CLI else None


class ChildProcess(Protocol):
    """A running child as the launcher sees it: an asyncio subprocess, or a copy of the fork
    server (`staysaga.forkserver.ForkedProcess`)."""

    @property
    def pid(self) -> int: ...
    @property
    def returncode(self) -> int | None: ...
    @property
    def stdout(self) -> asyncio.StreamReader | None: ...
    async def wait(self) -> int: ...


class StackError(RuntimeError):
    """The stack cannot start or keep running; the message says why."""


@dataclass
class Child:
    """A supervised process of the stack."""

    name: str
    argv: list[str]
    probe: Probe | None = None
    """Readiness: passes once the child serves; awaited at every start."""
    restart: bool = True
    liveness: Probe | None = None
    """Passes while the child is alive (default: `probe`); probed once the stack is up."""
    after: tuple[str, ...] = ()
    """The children that must be ready before it starts (names absent from the plan are
    ignored); the others start at the same time."""
    process: ChildProcess | None = None
    pump: asyncio.Task[None] | None = None
    started: float = 0.0
    ready_after: float | None = None
    """Seconds from the start of `up` until it first answered its readiness probe."""
    exits: ExitHistory = field(default_factory=ExitHistory)
    env: dict[str, str] = field(default_factory=dict)
    """Variables of its own, over the stack's (a copy's port)."""
    runs_as: str | None = None
    """The registry name it runs as (its OAuth client), when its name says which copy."""
    serves: tuple[str, ...] = ()
    """The components it serves when it is more than one (the bank and the mail sink in
    one process): another child's `after` may name any of them."""

    @property
    def client_id(self) -> str:
        """Its OAuth 2 client id, if it is one of the registry's clients."""
        return self.runs_as or self.name


def die_with_parent() -> None:
    """In the child before it runs: be sent SIGTERM when the launcher dies."""
    # Children live in their own session (so a terminal's Ctrl-C reaches only us and we stop
    # them in order), and the kernel sends them SIGTERM should the launcher itself be killed.
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def port_is_free(host: str, port: int) -> bool:
    """Whether a TCP port can be bound (nothing listens on it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


class Prober:
    """Readiness and liveness probes: a GET over HTTP/1.1 on a fresh connection (no stale
    keep-alive), its status read, the connection closed. The children answer on loopback,
    in plain HTTP; an HTTP client library cost the launcher ~2.5 ms of CPU a probe, a
    second of `up`'s start-up with every child probed every 50 ms until it answers."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout

    async def status(self, url: str) -> int:
        """The status `url` answers a GET with."""
        parts = urlsplit(url)
        if parts.scheme != "http" or parts.hostname is None:
            raise StackError(f"cannot probe {url}: plain http only")
        path = parts.path or "/"
        if parts.query:
            path += "?" + parts.query
        request = f"GET {path} HTTP/1.1\r\nHost: {parts.netloc}\r\nConnection: close\r\n\r\n"
        async with asyncio.timeout(self.timeout):
            reader, writer = await asyncio.open_connection(parts.hostname, parts.port or 80)
            try:
                writer.write(request.encode())
                line = await reader.readline()
            finally:
                writer.close()
                with contextlib.suppress(OSError):
                    await writer.wait_closed()
        words = line.split()
        if len(words) < 2 or not words[0].startswith(b"HTTP/") or not words[1].isdigit():
            raise StackError(f"{url} did not answer in HTTP")
        return int(words[1])

    async def aclose(self) -> None:
        """Nothing held between probes."""


def http_probe(url: str, prober: Prober | None = None) -> Probe:
    """A probe that passes when `url` answers 200 (through `prober`, or one of its own)."""
    through = prober or Prober(timeout=2.0)

    async def probe() -> None:
        status = await through.status(url)
        if status != 200:
            raise StackError(f"{url} answered {status}")

    return probe


def all_probes(*probes: Probe) -> Probe:
    """A probe that passes when each of `probes` passes (a process serving several apps)."""

    async def probe() -> None:
        for one in probes:
            await one()

    return probe


def _ephemeral_ports() -> range:
    """The ports Linux gives outgoing connections (a listener there may find its port
    taken by a connection of the stack itself between the pick and the bind)."""
    try:
        low, high = Path(EPHEMERAL_RANGE).read_text().split()
        return range(int(low), int(high) + 1)
    except (OSError, ValueError):
        return range(32768, 61000)


QUIET_PORTS_ENV = "STAYSAGA_QUIET_PORTS"
"""`FROM-TO`: the part of the quiet range this process and its stacks pick from (stacks
started side by side, e.g. by parallel test workers, each get a part of their own, so no
two pick the same port before either binds it)."""


def quiet_ports() -> range:
    """The ports `quiet_port` picks from: below the ephemeral range, or the part of it
    STAYSAGA_QUIET_PORTS names."""
    top = min(_ephemeral_ports().start, 65536)
    low, high = QUIET_PORTS_FROM, top
    given = os.environ.get(QUIET_PORTS_ENV, "").strip()
    if given:
        first, _, last = given.partition("-")
        try:
            low, high = max(int(first), 1), min(int(last) + 1, top)
        except ValueError:
            raise StackError(f"{QUIET_PORTS_ENV} must be FROM-TO, e.g. 20000-23999") from None
    return range(low, high)


def quiet_port() -> int:
    """A free port below the ephemeral range: one a connection of the machine cannot take
    between the pick and the bind (a stack picks its ports so, then starts)."""
    ports = quiet_ports()
    rng = random.SystemRandom()
    for _ in range(1000):
        port = rng.choice(ports) if len(ports) > 0 else _any_free_port()
        if port_is_free("127.0.0.1", port):
            return port
    return _any_free_port()


def distinct_ports(pick: Callable[[], int], taken: set[int]) -> Callable[[], int]:
    """A port picker that never hands out a port twice, nor one of `taken`."""
    given = set(taken)

    def distinct() -> int:
        while (port := pick()) in given:
            pass
        given.add(port)
        return port

    return distinct


def _any_free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def describe(error: BaseException, timeout: float) -> str:
    """Why a probe failed, in a few words."""
    if isinstance(error, TimeoutError):
        return f"no answer in {timeout:g} s"
    return str(error) or type(error).__name__


def seconds_text(value: float) -> str:
    """A duration for a person: 0.2 s, 12 s."""
    return f"{value:.1f} s" if value < 10 else f"{value:.0f} s"


def kill_group(pid: int) -> None:
    """Kill a process group, even a stopped one."""
    # SIGKILL ends even a stopped (SIGSTOP) process; SIGCONT as well, should it linger.
    signal_group(pid, signal.SIGKILL)
    signal_group(pid, signal.SIGCONT)


def signal_group(pid: int, sig: signal.Signals) -> None:
    """Signal a process group, if any of it is left."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)
