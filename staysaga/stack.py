"""`staysaga up`: the whole local stack as supervised child processes.

Each component runs as its own process with its output prefixed by its name. A process
starts only when what it depends on answers (its readiness probe). Once the stack is up,
the launcher also probes every process's liveness (a service's or a worker's /healthz, the
Temporal server's health check) and kills one that stops answering.

A process that exits (or was killed so) is restarted after a wait that doubles with each
exit in a row, up to a cap. One that keeps failing is reported degraded and retried for as
long as the launcher runs, while the rest keep running: only SIGINT or SIGTERM (or a
failure while first starting) stops the stack, every child (process group included),
newest first.

Kept whole because it is one supervisor: start order, readiness, liveness, restarts and
shutdown all act on the same children and the same stop event. Its policy lives in
`staysaga.supervision`, what it runs in `staysaga.launchplan`, and a child (its probes,
its process group's signals) in `staysaga.children`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import quote

from components.registry import oauth_clients
from services.common.settings import Settings
from staysaga import launchplan
from staysaga.children import (
    STAYSAGA_CLI,
    Child,
    ChildProcess,
    Probe,
    Prober,
    StackError,
    cli_arguments,
    describe,
    die_with_parent,
    http_probe,
    kill_group,
    seconds_text,
    signal_group,
)
from staysaga.forkserver import FORK_SERVER, ForkServer
from staysaga.launchplan import SEED
from staysaga.memory import (
    Started,
    cpu_seconds,
    cpu_seconds_of,
    memory_of,
    process_tree,
    pss_bytes,
    rss_bytes,
    rss_of,
    startup_table,
)
from staysaga.prometheus import prometheus_binary, write_config
from staysaga.secrets import StackSecrets, make_private
from staysaga.supervision import ExitHistory, Liveness, Misses, RestartPolicy

STOP_GRACE_SECONDS = 10.0
READY_TIMEOUT_SECONDS = 120.0
# One readiness probe gets this long; the launcher retries it until READY_TIMEOUT_SECONDS.
READY_PROBE_TIMEOUT_SECONDS = 10.0
# Between two readiness probes of a starting child: a refused connection costs next to
# nothing, and each child's wait adds to the start of those that wait for it.
READY_POLL_SECONDS = 0.05
# Probes and waits a watcher may be cancelled in use asyncio.timeout, not asyncio.wait_for:
# on Python 3.11 wait_for loses a cancellation that lands as its awaitable finishes.

_COLOURS = (36, 33, 32, 35, 34, 31, 96, 93, 92, 95, 94)


class Stack:
    """Starts, watches and stops the children of `staysaga up`."""

    def __init__(
        self,
        settings: Settings,
        out: Callable[[str], None] | None = None,
        layout: launchplan.Layout | None = None,
    ) -> None:
        self.settings = settings
        self.layout = layout or launchplan.Layout(settings)
        self.children: list[Child] = []
        self.stopping = asyncio.Event()
        self.up = asyncio.Event()
        self.began = time.monotonic()
        self.failure: str | None = None
        self.policy = RestartPolicy.from_settings(settings)
        self.liveness = Liveness.from_settings(settings)
        # What every HTTP probe goes through.
        self.http = Prober(timeout=self.liveness.timeout)
        self._write = out or (lambda line: print(line, flush=True))
        self._colour = sys.stdout.isatty()
        self._width = 14
        self._watchers: list[asyncio.Task[None]] = []
        self._seeding: asyncio.Task[None] | None = None
        self.secrets: StackSecrets | None = None
        self.fork_server: ForkServer | None = None
        self._fork_pump: asyncio.Task[None] | None = None

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
        return self.layout.plan(self.http, self._temporal_probe)

    def _temporal_probe(self, ui_url: str) -> Probe:
        # The UI answers this by asking the server's frontend for our namespace: one probe
        # of both, without loading the Temporal SDK into the launcher (~30 MB).
        namespace = quote(self.settings.temporal.namespace, safe="")
        return http_probe(f"{ui_url.rstrip('/')}/api/v1/namespaces/{namespace}", self.http)

    def check_ports(self, children: Sequence[Child]) -> None:
        """Refuse to start if a port we need is taken, naming the variable that sets it."""
        self.layout.check_ports(children)

    def child_environment(self, child: Child) -> dict[str, str]:
        """The environment a child starts with."""
        env = {**os.environ, **self.layout.environment(), **child.env}
        env.update({"PYTHONUNBUFFERED": "1", "STAYSAGA_COMPONENT": child.name})
        # pydantic looks for plugins among every installed distribution's entry points when
        # it builds its first model (~40 ms of each process's start); the stack uses none.
        # Set PYDANTIC_DISABLE_PLUGINS to anything else to have them.
        env.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
        if self.secrets is not None:
            # Each child is its own OAuth 2 client: the component name, or worker-<queue>
            # (every copy of one component is the same client).
            client_id = child.client_id if child.client_id in oauth_clients() else None
            env.update(self.secrets.child_env(client_id))
        if self._colour and not os.environ.get("STAYSAGA_LOG_FORMAT"):
            # A person is reading the terminal: one readable line a record, not JSON.
            env["STAYSAGA_LOG_FORMAT"] = "text"
        return env

    async def _spawn(self, child: Child, index: int) -> None:
        env = self.child_environment(child)
        child.started = time.monotonic()
        arguments = cli_arguments(child.argv)
        forks = self.fork_server
        process: ChildProcess | None = None
        if arguments is not None and forks is not None and forks.running:
            try:
                process = await forks.spawn(arguments, env)
            except ConnectionError:
                self.say(f"the fork server has exited; {child.name} starts on its own")
        if process is None:
            process = await asyncio.create_subprocess_exec(
                *child.argv,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
                env=env,
                start_new_session=True,
                preexec_fn=die_with_parent,
            )
        child.process = process
        child.pump = asyncio.create_task(self._pump(child.name, process, index))

    async def _pump(self, name: str, process: ChildProcess, index: int) -> None:
        assert process.stdout is not None
        prefix = self._prefix(name, index + 1)
        async for raw in process.stdout:
            self._write(prefix + raw.decode(errors="replace").rstrip("\n"))

    async def _start_fork_server(self) -> None:
        """The process the Python children are copies of; it loads their common code while
        Temporal starts (see staysaga.forkserver)."""
        env = self.child_environment(Child(FORK_SERVER, []))
        self.fork_server = await ForkServer.start(
            env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=die_with_parent,
        )
        self._fork_pump = asyncio.create_task(self._pump(FORK_SERVER, self.fork_server.process, 0))

    async def _stop_fork_server(self) -> None:
        if self.fork_server is not None:
            await self.fork_server.close()
        if self._fork_pump is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._fork_pump, 2.0)

    async def _wait_ready(self, child: Child) -> str | None:
        """Wait until the child answers its readiness probe: None, or why it did not."""
        if child.probe is None:
            return None
        deadline = time.monotonic() + READY_TIMEOUT_SECONDS
        last_error: Exception | None = None
        while time.monotonic() < deadline:
            assert child.process is not None
            if child.process.returncode is not None:
                return f"exited with status {child.process.returncode} while starting"
            try:
                async with asyncio.timeout(READY_PROBE_TIMEOUT_SECONDS):
                    await child.probe()
                return None
            except Exception as exc:
                last_error = exc
                if await self._stops_within(READY_POLL_SECONDS):
                    return None
        reason = describe(last_error, READY_PROBE_TIMEOUT_SECONDS) if last_error else "no probe"
        return f"did not become ready in {READY_TIMEOUT_SECONDS:.0f} s: {reason}"

    async def _stops_within(self, seconds: float) -> bool:
        """Wait `seconds`, or less if told to stop; True if told to stop."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self.stopping.wait()
        return self.stopping.is_set()

    async def prepare(self) -> None:
        """What the children need before the first starts: var/, the secrets, the catalogue."""
        make_private(self.settings.var_dir)
        self.secrets = StackSecrets.load(self.settings.var_dir)
        if self.settings.common.fork:
            await self._start_fork_server()
        if prometheus_binary() is None:
            self.say("Prometheus is not installed (apt-get install prometheus): no metrics kept")
        else:
            write_config(self.settings, self.layout.scrape_targets())
        await self.layout.prepare(self.say)
        # Beside the first children; what reads the catalogue waits for it (SEED).
        self._seeding = asyncio.create_task(self._seed())

    async def run(self) -> int:
        """Start everything, print where to click, supervise until told to stop."""
        loop = asyncio.get_running_loop()
        signals = (signal.SIGINT, signal.SIGTERM)
        for sig in signals:
            loop.add_signal_handler(sig, self.stopping.set)
        children = self.plan()
        self._width = max(len(c.name) for c in [*children, Child("staysaga", [])]) + 1
        try:
            self.check_ports(children)
            started = self.began = time.monotonic()
            await self.prepare()
            await self._start_all(children)
            if not self.stopping.is_set():
                self.up.set()
                self.say(f"everything answered in {seconds_text(time.monotonic() - started)}")
                self.print_startup()
                self._print_urls()
                await self._supervise()
        except StackError as exc:
            self.failure = str(exc)
        finally:
            self.stopping.set()
            await self._end_seeding()
            await self._end_watchers()
            await self._stop_all()
            await self._stop_fork_server()
            await self.http.aclose()
            for sig in signals:
                loop.remove_signal_handler(sig)
        if self.failure:
            self.say(f"error: {self.failure}")
            return 1
        self.say("stopped; every process has exited")
        return 0

    async def _start_all(self, children: Sequence[Child]) -> None:
        """Start each child once those it names in `after` are ready, the others at the
        same time; return once every one answers (or the stack is told to stop), raise
        StackError for the first that cannot start."""
        starts: dict[str, asyncio.Task[None]] = {}
        if self._seeding is not None:
            starts[SEED] = self._seeding
        for index, child in enumerate(children):
            starts[child.name] = asyncio.create_task(self._start(index, child, starts))
            for served in child.serves:
                starts[served] = starts[child.name]
        tasks = list(starts.values())
        try:
            for finished in asyncio.as_completed(tasks):
                await finished
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _start(self, index: int, child: Child, starts: dict[str, asyncio.Task[None]]) -> None:
        for name in child.after:
            before = starts.get(name)
            if before is not None:
                # asyncio.wait, not await: this start being cancelled must not cancel that one.
                await asyncio.wait({before})
                if before.cancelled() or before.exception() is not None:
                    return  # its own task reports why
        if self.stopping.is_set():
            return
        self.children.append(child)
        child.exits = ExitHistory(self.policy)
        await self._spawn(child, index)
        failure = await self._wait_ready(child)
        if self.stopping.is_set():
            return
        if failure is not None:
            raise StackError(f"{child.name} {failure}")
        if child.ready_after is None:
            child.ready_after = time.monotonic() - self.began
        self.say(f"{child.name} is ready")
        self._watchers.append(asyncio.create_task(self._watch(child)))

    async def _seed(self) -> None:
        self.say("seeding the catalogue (first start only) ...")
        seeder = Child(SEED, [*STAYSAGA_CLI, "seed"], restart=False)
        await self._spawn(seeder, len(self.children) + 1)
        assert seeder.process is not None and seeder.pump is not None
        try:
            status = await seeder.process.wait()
        except asyncio.CancelledError:
            kill_group(seeder.process.pid)
            raise
        await seeder.pump
        if status != 0:
            raise StackError(f"`staysaga seed` failed with status {status}")

    def startup(self) -> list[Started]:
        """Each process's readiness, CPU time and memory, the launcher's own included."""
        pids = {
            c.name: c.process.pid
            for c in self.children
            if c.process is not None and c.process.returncode is None
        }
        groups = {name: [pid] for name, pid in pids.items()}
        tree = process_tree()
        rss, pss = rss_of(groups, tree), memory_of(groups, tree=tree)
        rows = [
            Started(
                c.name, c.ready_after, cpu_seconds_of(pids[c.name], tree), rss[c.name], pss[c.name]
            )
            for c in self.children
            if c.name in pids
        ]
        if self.fork_server is not None and self.fork_server.running:
            server = self.fork_server.process.pid
            # Its own figures: the children it forked have a row each.
            rows.append(Started(FORK_SERVER, None, cpu_seconds(server) or 0.0, *_memory(server)))
        own = os.times()
        rows.append(
            Started("staysaga (launcher)", None, own.user + own.system, *_memory(os.getpid()))
        )
        return rows

    def print_startup(self) -> None:
        """Where the start went, per process and in total, as `up` prints it once up."""
        for line in startup_table(self.startup(), os.cpu_count() or 1):
            self.say(line)

    async def _end_seeding(self) -> None:
        """A seeder still running when the stack stops (a failed start) goes too."""
        if self._seeding is not None:
            self._seeding.cancel()
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await self._seeding

    def _print_urls(self) -> None:
        for line in self.layout.links():
            self.say(line)

    async def _supervise(self) -> None:
        """Wait until told to stop; a watcher's error (a child that may not restart) ends it too."""
        stop = asyncio.create_task(self.stopping.wait())
        try:
            while not self.stopping.is_set():
                for watcher in self._watchers:
                    finished = watcher.done() and not watcher.cancelled()
                    error = watcher.exception() if finished else None
                    if error is not None:
                        raise error
                running = [w for w in self._watchers if not w.done()]
                await asyncio.wait({stop, *running}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stop.cancel()

    async def _end_watchers(self) -> None:
        if not self._watchers:
            return
        # Told to stop, each watcher returns at its next step; one stuck in a probe is cancelled.
        _, late = await asyncio.wait(self._watchers, timeout=READY_PROBE_TIMEOUT_SECONDS)
        for task in late:
            task.cancel()
        await asyncio.gather(*self._watchers, return_exceptions=True)

    async def _watch(self, child: Child) -> None:
        """Keep one child running until the stack stops, restarting it whenever it exits or
        stops answering its liveness probe."""
        while not self.stopping.is_set():
            trouble = await self._until_trouble(child)
            if trouble is None or not await self._bring_back(child, trouble):
                return

    async def _until_trouble(self, child: Child) -> str | None:
        """Wait until the child exits or stops answering (why), or the stack stops (None)."""
        process = child.process
        assert process is not None
        waits: list[asyncio.Task[Any]] = [
            asyncio.create_task(process.wait()),
            asyncio.create_task(self.stopping.wait()),
        ]
        liveness = child.liveness or child.probe
        if liveness is not None:
            waits.append(asyncio.create_task(self._until_unresponsive(liveness)))
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in waits:
                task.cancel()
            await asyncio.gather(*waits, return_exceptions=True)
        if self.stopping.is_set():
            return None
        if process.returncode is not None:
            return f"exited with status {process.returncode}"
        why: str = waits[2].result()
        return why

    async def _until_unresponsive(self, probe: Probe) -> str:
        """Probe every `interval` once the stack is up; return after too many misses in a row."""
        await self.up.wait()
        loop = asyncio.get_running_loop()
        misses = Misses(self.liveness.failures)
        last = loop.time()
        while True:
            await asyncio.sleep(max(0.0, last + self.liveness.interval - loop.time()))
            last = loop.time()
            try:
                async with asyncio.timeout(self.liveness.timeout):
                    await probe()
                error = None
            except Exception as exc:
                error = describe(exc, self.liveness.timeout)
            if misses.record(error is None):
                return (
                    f"stopped answering ({misses.count} liveness probes in a row failed: {error})"
                )

    async def _bring_back(self, child: Child, trouble: str) -> bool:
        """Restart a child that exited or stopped answering, backing off while it keeps
        failing; True once it is ready again, False if the stack stops first."""
        index = self.children.index(child)
        while True:
            status = await self._put_down(child, trouble)
            if not child.restart:
                raise StackError(f"{child.name} exited with status {status}")
            restart = child.exits.record(time.monotonic(), time.monotonic() - child.started)
            delay = seconds_text(restart.delay)
            if restart.degraded:
                self.say(
                    f"{child.name} is degraded (exited {restart.streak} times in "
                    f"{seconds_text(restart.span)}, last with status {status}); retrying in {delay}"
                )
            else:
                self.say(f"{child.name} exited with status {status}; restarting in {delay}")
            if await self._stops_within(restart.delay):
                return False
            await self._spawn(child, index)
            failure = await self._wait_ready(child)
            if self.stopping.is_set():
                return False
            if failure is None:
                self.say(f"{child.name} is {'ready' if child.probe else 'running'} again")
                return True
            trouble = failure

    async def _put_down(self, child: Child, trouble: str) -> int:
        """Make sure the child's process is gone (killing it if it still runs); its status."""
        process = child.process
        assert process is not None
        if process.returncode is None:
            self.say(f"{child.name} {trouble}; killing it")
        # What is left of its process group (nothing expected once it exited) goes too.
        kill_group(process.pid)
        await process.wait()
        assert process.returncode is not None
        return process.returncode

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
            signal_group(process.pid, signal.SIGTERM)
            # A stopped (SIGSTOP) process only acts on the SIGTERM once it runs again.
            signal_group(process.pid, signal.SIGCONT)
            try:
                await asyncio.wait_for(process.wait(), STOP_GRACE_SECONDS)
            except TimeoutError:
                self.say(f"{child.name} ignored SIGTERM for {STOP_GRACE_SECONDS:.0f} s; killing it")
                signal_group(process.pid, signal.SIGKILL)
                await process.wait()
        # Grandchildren left in the group (none expected) go too.
        signal_group(process.pid, signal.SIGKILL)
        if child.pump is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(child.pump, 2.0)


def _memory(pid: int) -> tuple[int, int]:
    """One process's own RSS and PSS, without its children's."""
    return rss_bytes(pid) or 0, pss_bytes(pid) or 0
