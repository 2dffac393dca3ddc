"""Start the stack's Python processes from one that has already loaded their common code.

Every service, worker and the website imports the same libraries before it serves
(uvicorn, Starlette, pydantic, SQLAlchemy, aiohttp, the Temporal SDK, `services.common`):
about a second of CPU and 60-80 MB in each of a dozen processes, most of `up`'s start-up.
`up` therefore starts one fork server, which imports that code once (`PRELOAD`, then
`PRELOAD_WHILE_IDLE` when nothing is asked of it), and asks it for each child: the server
forks, and the copy becomes the child, with its own arguments, environment, session and
output pipe, running `staysaga.cli` exactly as `python -m staysaga.cli ...` would. The
pages of the loaded code stay shared between the copies until one writes to them (the
collector is told to leave them alone, as `settle_for_serving` does), so the stack's
memory counted once (PSS) falls with its start.

Nothing the server imports may read our settings or start a thread while being imported:
the copies get their environment only after the fork, and a fork keeps only the thread
that called it. A test imports both tuples in a fresh interpreter and checks both.

The launcher talks to the server over a Unix socket that keeps message boundaries
(SOCK_SEQPACKET), one JSON message per request or event; a child's output pipe travels
with its request (SCM_RIGHTS). The server reaps its copies and reports each exit, so the
launcher sees a forked child as it sees any other: a pid, an output stream, an exit
status.

A copy is named in `ps` and /proc/PID/cmdline as `staysaga: <component>` (`TITLE_PREFIX`);
its /proc/PID/environ still shows the server's environment (the stack's, with its markers),
not the variables the copy was given.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import importlib
import json
import os
import selectors
import signal
import socket
import sys
import traceback
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

PRELOAD = (
    "staysaga.cli",
    "services.common.app",
    "services.common.http",
    "services.common.db",
    "services.common.logging",
    "uvicorn",
    "uvicorn.config",
    "uvicorn.server",
    "uvicorn.loops.uvloop",
    "uvicorn.protocols.http.httptools_impl",
    "uvicorn.protocols.websockets.auto",
    "uvicorn.lifespan.on",
    "aiosqlite",
)
"""What every child imports, loaded by the server before it forks the first."""

PRELOAD_WHILE_IDLE = (
    "temporalio.client",
    "temporalio.worker",
    # The activities and their payloads, for the four activity workers (~0.25 s each).
    "activities.worker",
)
"""What the workers and the website import, loaded once the server has nothing to do: the
services forked first do not wait for it (nor hold it), and the workers, which start
once the services answer, find it loaded. A copy forked before a module is loaded
imports it itself, as a process of its own would."""

FORK_SERVER = "forkserver"
"""Its name in `up`'s output and start-up table."""

TITLE_PREFIX = "staysaga: "
"""How a forked child is named in `ps` (and /proc/PID/cmdline): the prefix, then its
component (STAYSAGA_COMPONENT)."""

_MESSAGE_BYTES = 1 << 20
"""The largest message either side sends (a child's environment is a few kilobytes)."""


# -- the server, in its own process ------------------------------------------------------


def preload(modules: Sequence[str] = PRELOAD) -> None:
    """Import the common code, then hide it from the collector in every copy to come."""
    import setproctitle

    for name in modules:
        importlib.import_module(name)
    _freeze()
    # Titles must fit in the server's own argv, leaving its environment (and the markers a
    # stack's tests find their processes by) readable in /proc.
    os.environ["SPT_NOENV"] = "1"
    setproctitle.setproctitle(TITLE_PREFIX + FORK_SERVER)


def _freeze() -> None:
    """Hide everything loaded so far from the collector, in the server and every copy."""
    gc.collect()
    gc.freeze()


def serve(channel: socket.socket, later: Sequence[str] = PRELOAD_WHILE_IDLE) -> int:
    """Fork a child per request until the launcher closes its end; report every exit. When
    nothing is asked, load the next of `later`."""
    wake_read, wake_write = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
    signal.set_wakeup_fd(wake_write)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    selector = selectors.DefaultSelector()
    selector.register(channel, selectors.EVENT_READ)
    selector.register(wake_read, selectors.EVENT_READ)
    closing = (channel, selector, wake_read, wake_write)
    pending = list(later)
    while True:
        ready = selector.select(0 if pending else None)
        if not ready and pending:
            importlib.import_module(pending.pop(0))
            _freeze()
        for key, _ in ready:
            if key.fileobj is channel:
                data, fds, _, _ = socket.recv_fds(channel, _MESSAGE_BYTES, 1)
                if not data:
                    return 0
                if not fds:
                    continue  # every request carries the child's output pipe
                request = json.loads(data)
                pid = _fork(request, fds[0], closing)
                os.close(fds[0])
                _send(channel, {"id": request["id"], "pid": pid})
            else:
                with contextlib.suppress(BlockingIOError):
                    os.read(wake_read, 4096)
                _reap(channel)


def _reap(channel: socket.socket) -> None:
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        _send(channel, {"exited": pid, "status": os.waitstatus_to_exitcode(status)})


def _send(channel: socket.socket, message: Mapping[str, Any]) -> None:
    with contextlib.suppress(BrokenPipeError, ConnectionResetError):
        channel.send(json.dumps(message).encode())


def _fork(request: Mapping[str, Any], output: int, closing: tuple[Any, ...]) -> int:
    pid = os.fork()
    if pid != 0:
        return pid
    status = 1
    try:
        _become_child(request, output, closing)
        from staysaga.cli import main

        main(request["argv"])  # ends the process itself (os._exit)
    except SystemExit as exc:
        status = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException:
        traceback.print_exc()
    finally:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(status)


def _become_child(request: Mapping[str, Any], output: int, closing: tuple[Any, ...]) -> None:
    """In the copy: what a fresh `python -m staysaga.cli` process would have."""
    import setproctitle

    from staysaga.children import die_with_parent

    channel, selector, wake_read, wake_write = closing
    signal.set_wakeup_fd(-1)
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    selector.close()
    channel.close()
    os.close(wake_read)
    os.close(wake_write)
    os.setsid()
    die_with_parent()
    nothing = os.open(os.devnull, os.O_RDONLY)
    os.dup2(nothing, 0)
    os.dup2(output, 1)
    os.dup2(output, 2)
    os.close(nothing)
    os.close(output)
    env: dict[str, str] = request["env"]
    os.environ.clear()
    os.environ.update(env)
    sys.argv = [sys.argv[0], *request["argv"]]
    setproctitle.setproctitle(TITLE_PREFIX + env.get("STAYSAGA_COMPONENT", "staysaga"))


def main(argv: Sequence[str] | None = None) -> None:
    """`python -m staysaga.forkserver FD`: serve the launcher on the socket FD."""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 1 or not args[0].isdigit():
        print("usage: python -m staysaga.forkserver FD", file=sys.stderr)
        sys.exit(2)
    channel = socket.socket(fileno=int(args[0]))
    preload()
    sys.exit(serve(channel))


# -- the launcher's side -------------------------------------------------------------------


class ForkedProcess:
    """A child the fork server started, seen as asyncio sees a subprocess."""

    def __init__(self, pid: int, stdout: asyncio.StreamReader) -> None:
        self.pid = pid
        self.stdout = stdout
        self.returncode: int | None = None
        self._exited: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    async def wait(self) -> int:
        """Its exit status once it has exited (negative: the signal that ended it)."""
        return await asyncio.shield(self._exited)

    def _exit(self, status: int) -> None:
        self.returncode = status
        if not self._exited.done():
            self._exited.set_result(status)


class ForkServer:
    """The launcher's handle on its fork server."""

    def __init__(self, process: asyncio.subprocess.Process, channel: socket.socket) -> None:
        self.process = process
        self._channel = channel
        self._asked: dict[int, asyncio.Future[int]] = {}
        self._children: dict[int, ForkedProcess] = {}
        self._exits: dict[int, int] = {}
        self._next = 0
        self._listening = asyncio.create_task(self._listen())

    @classmethod
    async def start(cls, env: Mapping[str, str], **spawn: Any) -> ForkServer:
        """Start the server (it loads `PRELOAD` while the launcher goes on)."""
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "staysaga.forkserver",
                str(theirs.fileno()),
                pass_fds=(theirs.fileno(),),
                env=dict(env),
                **spawn,
            )
        except BaseException:
            ours.close()
            raise
        finally:
            theirs.close()
        ours.setblocking(False)
        return cls(process, ours)

    @property
    def running(self) -> bool:
        """Whether it still takes requests."""
        return self.process.returncode is None and not self._listening.done()

    async def spawn(self, argv: Sequence[str], env: Mapping[str, str]) -> ForkedProcess:
        """Start `staysaga.cli` with `argv` (what follows `python -m staysaga.cli`) in a
        copy of the server, with exactly `env` as its environment."""
        loop = asyncio.get_running_loop()
        read_end, write_end = os.pipe()
        self._next += 1
        asked = self._asked[self._next] = loop.create_future()
        try:
            message = json.dumps({"id": self._next, "argv": list(argv), "env": dict(env)})
            # A few kilobytes on a local socket with nothing else queued: it does not block.
            socket.send_fds(self._channel, [message.encode()], [write_end])
        except BaseException:
            os.close(read_end)
            raise
        finally:
            os.close(write_end)
        try:
            pid = await asyncio.shield(asked)
        except BaseException:
            os.close(read_end)
            raise
        reader = asyncio.StreamReader(limit=2**20)
        await loop.connect_read_pipe(
            lambda: asyncio.StreamReaderProtocol(reader), os.fdopen(read_end, "rb", 0)
        )
        child = self._children[pid] = ForkedProcess(pid, reader)
        if pid in self._exits:
            child._exit(self._exits.pop(pid))
        return child

    async def _listen(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while data := await loop.sock_recv(self._channel, _MESSAGE_BYTES):
                message = json.loads(data)
                if "exited" in message:
                    child = self._children.pop(message["exited"], None)
                    if child is None:
                        self._exits[message["exited"]] = message["status"]
                    else:
                        child._exit(message["status"])
                else:
                    asked = self._asked.pop(message["id"])
                    if not asked.done():
                        asked.set_result(message["pid"])
        except (OSError, ValueError):
            pass
        finally:
            gone = ConnectionError("the fork server has exited")
            for asked in self._asked.values():
                if not asked.done():
                    asked.set_exception(gone)

    async def close(self) -> None:
        """Stop the server once its children are gone (it exits when its socket closes)."""
        self._listening.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._listening
        self._channel.close()
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self.process.wait(), 5.0)
        if self.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.kill()
            await self.process.wait()


def stack_component(pid: int) -> str | None:
    """The component a process of a stack runs: a fork's title names it, a process started
    on its own carries it in its environment (STAYSAGA_COMPONENT); None if neither."""
    proc = Path("/proc") / str(pid)
    try:
        title = (proc / "cmdline").read_bytes().split(b"\0", 1)[0].decode(errors="replace")
        if title.startswith(TITLE_PREFIX):
            return title.removeprefix(TITLE_PREFIX)
        for entry in (proc / "environ").read_bytes().split(b"\0"):
            if entry.startswith(b"STAYSAGA_COMPONENT="):
                return entry.split(b"=", 1)[1].decode(errors="replace")
    except OSError:
        return None
    return None


def forked_children(server: int) -> list[int]:
    """The pids of a fork server's live children."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == server:
                    found.append(int(entry.name))
    return found


if __name__ == "__main__":
    main()
