"""`staysaga up --scaled`: the production shape on one machine, on real engines.

Every service keeps its data in its own PostgreSQL database (<prefix>_<service> on
SCALED_POSTGRES_SERVER, created if missing); every service and every worker runs in
SCALED_REPLICAS copies, each its own process on its own loopback port (the workers of a
task queue share it: Temporal hands each task to one of them); Debian's nginx is the edge
in front of the website and the services (`staysaga.edge`), on the registry's ports, so
`<NAME>_URL` reaches the edge for browsers and for the services calling each other alike:
a copy that is down fails no call the other copy can answer. The Temporal dev server stays
the engine. The stand-ins for third parties (the bank, the mail sink) run once.

The copies' ports are picked free at each start: only the edge and the launcher need them,
and the edge's configuration is written again at every start.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import create_async_engine

from components.registry import AUTH_SERVER, COMPONENTS, workers_to_run
from services.common.settings import ScaledSettings, Settings
from staysaga import edge
from staysaga.children import (
    STAYSAGA_CLI,
    Child,
    Probe,
    Prober,
    StackError,
    distinct_ports,
    http_probe,
    port_is_free,
    quiet_port,
)
from staysaga.launchplan import SEED, SEEDED, Layout, check_ports, links
from staysaga.prometheus import (
    DEV_SERVER_JOB,
    prometheus_binary,
    prometheus_child,
    prometheus_port,
)
from temporal.devserver import LOOPBACK, dev_server_args
from temporal.names import TaskQueue

# The database every PostgreSQL server has, to create the others from.
ADMIN_DATABASE = "postgres"
CONNECT_TIMEOUT_SECONDS = 10.0


@dataclass(frozen=True)
class Copy:
    """One process of a component or a worker: its name, and the ports it serves on."""

    name: str
    """`search-2`, `worker-payments-1`; a stand-in keeps the component's own name."""
    runs_as: str
    """The component's name, or `worker-<queue>`: its OAuth client."""
    port: int
    """A component's HTTP port; a worker's /healthz and /readyz."""
    metrics_port: int | None = None
    """A worker's Temporal SDK metrics."""


def _configured_ports(settings: Settings) -> set[int]:
    """The ports the settings give the edge, Temporal, Prometheus, the mail sink's SMTP."""
    ports = {settings.port(name) for name in COMPONENTS}
    ports |= {settings.temporal.ui_port, settings.temporal.metrics_port, settings.smtp_port}
    ports.add(int(settings.temporal.address.rpartition(":")[2]))
    ports.add(prometheus_port(settings))
    return ports


def _after(component: str, auth_copies: Sequence[str]) -> tuple[str, ...]:
    # The edge first (the copies reach each other and the auth server through it), then
    # the auth server's copies (everyone asks it for tokens), then every other component
    # at once: a service is ready once its database answers, and nothing calls one before
    # the stack is up; the catalogue's owners also wait for its seeding.
    if component == AUTH_SERVER:
        return (edge.EDGE,)
    return (edge.EDGE, *auth_copies, *((SEED,) if component in SEEDED else ()))


def database_name(settings: Settings, component: str) -> str:
    """A service's database in the scaled stack: <prefix>_<service> (never the tests' own
    `test`, which has no underscore)."""
    return f"{settings.of(ScaledSettings).database_prefix}_{component}"


def server_url(url: str) -> str:
    """A PostgreSQL URL without its database: the server, as SCALED_POSTGRES_SERVER takes it."""
    return make_url(url).set(database="").render_as_string(hide_password=False).rstrip("/")


def database_url(settings: Settings, component: str) -> str:
    """A service's SQLAlchemy URL in the scaled stack."""
    server = settings.of(ScaledSettings).postgres_server
    return f"{server}/{database_name(settings, component)}"


class ScaledLayout(Layout):
    """The children, ports, environment and preparations of `up --scaled`."""

    def __init__(self, settings: Settings, pick_port: Callable[[], int] | None = None) -> None:
        super().__init__(settings)
        count = settings.of(ScaledSettings).replicas
        pick_port = distinct_ports(pick_port or quiet_port, _configured_ports(settings))
        self.copies: dict[str, list[Copy]] = {}
        for name, component in COMPONENTS.items():
            if component.stand_in:
                self.copies[name] = [Copy(name, name, pick_port())]
            else:
                self.copies[name] = [
                    Copy(f"{name}-{i}", name, pick_port()) for i in range(1, count + 1)
                ]
        self.worker_copies: dict[TaskQueue, list[Copy]] = {
            queue: [
                Copy(f"worker-{queue}-{i}", f"worker-{queue}", pick_port(), pick_port())
                for i in range(1, count + 1)
            ]
            for queue in workers_to_run()
        }
        self.status_port = pick_port()

    # ---- what every child gets -------------------------------------------------------

    def own_databases(self) -> dict[str, str]:
        """component -> the database `up --scaled` makes for it (none where the
        environment names a database already)."""
        return {
            name: database_name(self.settings, name)
            for name, component in COMPONENTS.items()
            if component.has_database and not self.settings.env.get(f"{name.upper()}_DATABASE_URL")
        }

    def environment(self) -> dict[str, str]:
        """Every component reached through the edge, its data on PostgreSQL, and the
        edge as the one proxy the copies believe."""
        env = {f"{name.upper()}_URL": self.settings.url(name) for name in COMPONENTS}
        env.update(
            {
                f"{name.upper()}_DATABASE_URL": database_url(self.settings, name)
                for name in self.own_databases()
            }
        )
        # Copies listen on loopback only: whoever else calls them goes through the edge.
        env["STAYSAGA_HOST"] = LOOPBACK
        env["STAYSAGA_TRUSTED_PROXIES"] = edge.EDGE_SOURCE
        return env

    # ---- the children ----------------------------------------------------------------

    def plan(self, http: Prober, temporal_probe: Callable[[str], Probe]) -> list[Child]:
        """Temporal, the edge, the auth server's copies, every other component's copies
        together, every worker's copies together, Prometheus if installed."""
        settings = self.settings
        cli = list(STAYSAGA_CLI)
        children: list[Child] = []
        if settings.temporal.dev_server:
            db_file = (settings.var_dir / "temporal.db").resolve()
            ui = f"http://127.0.0.1:{settings.temporal.ui_port}/"
            children.append(
                Child("temporal", dev_server_args(settings, db_file), temporal_probe(ui))
            )
        # Before the services: they reach each other, and the auth server, through it.
        children.append(edge.edge_child(settings, http, self.status_port))
        auth_copies = [copy.name for copy in self.copies[AUTH_SERVER]]
        component_copies = [copy.name for copies in self.copies.values() for copy in copies]
        for name, copies in self.copies.items():
            for copy in copies:
                url = f"http://{LOOPBACK}:{copy.port}"
                children.append(
                    Child(
                        copy.name,
                        [*cli, "serve", name],
                        http_probe(url + "/readyz", http),
                        liveness=http_probe(url + "/healthz", http),
                        env={f"{name.upper()}_PORT": str(copy.port)},
                        runs_as=copy.runs_as,
                        after=_after(name, auth_copies),
                    )
                )
        for queue, copies in self.worker_copies.items():
            for copy in copies:
                health = f"http://{LOOPBACK}:{copy.port}"
                children.append(
                    Child(
                        copy.name,
                        [*cli, "worker", queue],
                        http_probe(health + "/readyz", http),
                        liveness=http_probe(health + "/healthz", http),
                        env={
                            f"WORKER_{queue.upper()}_HEALTH_PORT": str(copy.port),
                            f"WORKER_{queue.upper()}_METRICS_PORT": str(copy.metrics_port),
                        },
                        runs_as=copy.runs_as,
                        after=("temporal", *component_copies),
                    )
                )
        binary = prometheus_binary()
        if binary is not None:
            children.append(prometheus_child(settings, http, binary))
        return children

    def check_ports(self, children: Sequence[Child]) -> None:
        """The registry's ports (now the edge's) as `up` checks them, and the copies'."""
        names = {c.name for c in children}
        check_ports(self.settings, [c for c in children if c.name in ("temporal", "prometheus")])
        wanted = [(f"{name.upper()}_PORT", self.settings.port(name)) for name in COMPONENTS]
        if "edge" in names:
            wanted.append(("the edge's status port", self.status_port))
        for copies in [*self.copies.values(), *self.worker_copies.values()]:
            for copy in copies:
                if copy.name in names:
                    wanted.append((copy.name, copy.port))
                    if copy.metrics_port is not None:
                        wanted.append((copy.name, copy.metrics_port))
        for what, port in wanted:
            if port_is_free(LOOPBACK, port):
                continue
            if what.endswith("_PORT"):
                raise StackError(
                    f"port {port} is already in use ({what}); stop what holds it "
                    f"(another `staysaga up`?) or set {what} to another port"
                )
            # A copy's port, picked free a moment ago: the next start picks others.
            raise StackError(f"port {port} was taken meanwhile ({what}); start again")

    # ---- before the first child --------------------------------------------------------

    async def prepare(self, say: Callable[[str], None]) -> None:
        """Every service's database on PostgreSQL, and the edge's configuration."""
        if edge.nginx_binary() is None:
            raise StackError(
                "`up --scaled` needs nginx as its edge: apt-get install nginx-light (or nginx)"
            )
        created = await ensure_databases(
            self.settings.of(ScaledSettings).postgres_server, self.own_databases().values()
        )
        if created:
            say("created the PostgreSQL databases " + ", ".join(created))
        upstreams = edge.upstreams_of(
            {name: [c.port for c in copies] for name, copies in self.copies.items()},
            self.settings,
        )
        edge.write_config(
            self.settings, upstreams, self.status_port, self.settings.common.trusted_proxies
        )

    def scrape_targets(self) -> Mapping[str, list[str]]:
        """Each copy scraped on its own port (the edge does not pass /metrics on)."""
        settings = self.settings
        targets: dict[str, list[str]] = {}
        if settings.temporal.dev_server:
            targets[DEV_SERVER_JOB] = [f"{LOOPBACK}:{settings.temporal.metrics_port}"]
        for name, copies in self.copies.items():
            targets[name] = [f"{LOOPBACK}:{c.port}" for c in copies]
        for queue, copies in self.worker_copies.items():
            targets[f"worker-{queue}"] = [f"{LOOPBACK}:{c.metrics_port}" for c in copies]
        targets["prometheus"] = [f"{LOOPBACK}:{prometheus_port(settings)}"]
        return targets

    def links(self) -> list[str]:
        """`up`'s links (each the edge's), and what runs behind them."""
        lines = links(self.settings)
        count = self.settings.of(ScaledSettings).replicas
        server = make_url(self.settings.of(ScaledSettings).postgres_server)
        extra = [
            f"  {'edge (nginx) status':<28}  http://{LOOPBACK}:{self.status_port}{edge.STATUS_PATH}",
            f"Every link above is the edge (nginx, {edge.config_path(self.settings)}); behind "
            f"it {count} copies of each service and worker,",
            f"each service's data in its own PostgreSQL database on {server.host}:{server.port} "
            f"({database_name(self.settings, '<service>')}).",
        ]
        at = next(i for i, line in enumerate(lines) if line.startswith("Press Ctrl-C"))
        return lines[:at] + extra + lines[at:]


async def ensure_databases(server: str, names: Iterable[str]) -> list[str]:
    """Create each database that does not exist yet on the PostgreSQL server; the ones
    created. StackError if the server does not answer."""
    admin = make_url(server).set(database=ADMIN_DATABASE)
    engine = create_async_engine(
        admin,
        isolation_level="AUTOCOMMIT",
        connect_args={"timeout": CONNECT_TIMEOUT_SECONDS},
    )
    created: list[str] = []
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(text("SELECT datname FROM pg_database"))
            existing = {row[0] for row in rows}
            for name in names:
                if name not in existing:
                    # A name of ours (settings.parsers.sql_name + a component's): quoted,
                    # never a value from outside.
                    await conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
                    created.append(name)
    except (OSError, SQLAlchemyError) as exc:
        raise StackError(
            f"PostgreSQL at {admin.host}:{admin.port} does not answer "
            f"(SCALED_POSTGRES_SERVER): {exc}"
        ) from exc
    finally:
        await engine.dispose()
    return created


async def drop_databases(server: str, prefix: str) -> list[str]:
    """Drop every database named <prefix>_<component> (a scaled stack's, once stopped)."""
    admin = make_url(server).set(database=ADMIN_DATABASE)
    engine = create_async_engine(admin, isolation_level="AUTOCOMMIT")
    wanted = {f"{prefix}_{name}" for name in COMPONENTS}
    dropped = []
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(text("SELECT datname FROM pg_database"))
            for name in sorted({row[0] for row in rows} & wanted):
                await conn.exec_driver_sql(f'DROP DATABASE "{name}" WITH (FORCE)')
                dropped.append(name)
    finally:
        await engine.dispose()
    return dropped
