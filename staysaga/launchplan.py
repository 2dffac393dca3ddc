"""What `staysaga up` runs and where: the children in start order, the ports they need,
and the links it prints once they answer.

`Layout` is the embedded default, one copy of everything; `staysaga.scaled` lays out the
production shape (copies behind an edge, PostgreSQL) through the same few methods.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from components.registry import AUTH_SERVER, COMPONENTS, WORKERS, workers_to_run
from services.common.settings import Settings
from staysaga.children import (
    STAYSAGA_CLI,
    Child,
    Probe,
    Prober,
    StackError,
    all_probes,
    http_probe,
    port_is_free,
)
from staysaga.prometheus import prometheus_binary, prometheus_child, prometheus_port, prometheus_url
from temporal.devserver import dev_server_args
from workflows.states import BookingState, bookings_url

SEED = "seed"
"""What the catalogue's owners wait for: `staysaga seed`, which the launcher runs first."""
SEEDED = ("search", "reservations")
"""The components whose data the seeder writes: they start once it is done."""


BESIDE_THE_WORKFLOW_WORKER = "codec"
"""The component the embedded stack serves from the workflow worker's process: the payload
codec, which the operators' Temporal UI decrypts through. Both are operator-side and hold
the payload keys; the codec holds nothing else (no OAuth client, no database)."""


def sharing_one_process() -> tuple[str, ...]:
    """The components the embedded stack serves from one process: the stand-ins for third
    parties that hold no OAuth client (the bank, the mail sink). Each still has its own
    port, database and settings; only the interpreter is shared (~90 MB and a second of
    start-up less). Everything of staysaga's own keeps a process of its own: its OAuth
    client, its scopes, its secrets."""
    return tuple(name for name, c in COMPONENTS.items() if c.stand_in and c.scopes is None)


class Layout:
    """How `up` lays the stack out: by default each component and worker once, on the
    ports of the registry, each with its SQLite file."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def environment(self) -> dict[str, str]:
        """Variables every child gets over the launcher's own (the seeder's included)."""
        return {}

    def plan(self, http: Prober, temporal_probe: Callable[[str], Probe]) -> list[Child]:
        """The children to run, in start order."""
        return plan(self.settings, http, temporal_probe)

    def check_ports(self, children: Sequence[Child]) -> None:
        """Refuse to start if a port we need is taken, naming the variable that sets it."""
        check_ports(self.settings, children)

    async def prepare(self, say: Callable[[str], None]) -> None:
        """What must exist before the first child starts, beyond var/ and the secrets."""

    def scrape_targets(self) -> Mapping[str, list[str]] | None:
        """Prometheus's targets by job, if not one per registry entry (`scrape_jobs`)."""
        return None

    def links(self) -> list[str]:
        """What `up` prints once everything answers."""
        return links(self.settings)


def plan(settings: Settings, http: Prober, temporal_probe: Callable[[str], Probe]) -> list[Child]:
    """The children to run, in start order; each starts once those it names in `after`
    are ready, the rest at the same time."""
    cli = list(STAYSAGA_CLI)
    children: list[Child] = []
    if settings.temporal.dev_server:
        db_file = (settings.var_dir / "temporal.db").resolve()
        ui = f"http://127.0.0.1:{settings.temporal.ui_port}/"
        children.append(Child("temporal", dev_server_args(settings, db_file), temporal_probe(ui)))
    shared = sharing_one_process()
    for name, component in COMPONENTS.items():
        if name in shared[1:] or name == _codec_beside_worker():
            continue
        url = settings.url(name)
        if name in shared and len(shared) > 1:
            urls = [settings.url(member) for member in shared]
            after = {a for m in shared for a in COMPONENTS[m].after if a not in shared}
            children.append(
                Child(
                    "+".join(shared),
                    [*cli, "serve", *shared],
                    all_probes(*(http_probe(u + "/readyz", http) for u in urls)),
                    liveness=all_probes(*(http_probe(u + "/healthz", http) for u in urls)),
                    after=tuple(sorted(after)),
                    serves=shared,
                )
            )
            continue
        children.append(
            Child(
                name,
                [*cli, "serve", name],
                http_probe(url + "/readyz", http),
                liveness=http_probe(url + "/healthz", http),
                after=(*component.after, *((SEED,) if name in SEEDED else ())),
            )
        )
    # Workers come last: Temporal and the services they call already answer. Each is
    # ready once it polls its task queue (temporal.health).
    for queue in workers_to_run():
        health = f"http://{settings.host}:{settings.worker_health_port(queue)}"
        calls = WORKERS[queue].calls
        name = f"worker-{queue}"
        argv = [*cli, "worker", queue]
        ready = http_probe(health + "/readyz", http)
        alive = http_probe(health + "/healthz", http)
        serves: tuple[str, ...] = ()
        if calls is None and _codec_beside_worker():
            codec = settings.url(BESIDE_THE_WORKFLOW_WORKER)
            serves = (name, BESIDE_THE_WORKFLOW_WORKER)
            argv += ["--serve", BESIDE_THE_WORKFLOW_WORKER]
            ready = all_probes(ready, http_probe(codec + "/readyz", http))
            alive = all_probes(alive, http_probe(codec + "/healthz", http))
            name = "+".join(serves)
        children.append(
            Child(
                name,
                argv,
                ready,
                liveness=alive,
                after=("temporal", AUTH_SERVER, *((calls,) if calls else ())),
                serves=serves,
                # Its OAuth 2 client is the workflow worker's (the codec has none).
                runs_as=f"worker-{queue}" if serves else None,
            )
        )
    # Last, and only where installed: it scrapes everything above (staysaga.prometheus). It
    # needs none of them to start: a target that does not answer yet is one missed scrape,
    # well within the `for:` of the alert on it.
    binary = prometheus_binary()
    if binary is not None:
        children.append(prometheus_child(settings, http, binary))
    return children


def _codec_beside_worker() -> str | None:
    """The codec, when the workflow worker that serves it beside itself runs."""
    workflow_worker = any(WORKERS[q].calls is None for q in workers_to_run())
    if BESIDE_THE_WORKFLOW_WORKER in COMPONENTS and workflow_worker:
        return BESIDE_THE_WORKFLOW_WORKER
    return None


def check_ports(settings: Settings, children: Sequence[Child]) -> None:
    """Refuse to start if a port we need is taken, naming the variable that sets it."""
    names = {c.name for c in children}
    wanted: list[tuple[str, int]] = []
    if "temporal" in names:
        port = int(settings.temporal.address.rpartition(":")[2])
        wanted += [
            ("TEMPORAL_ADDRESS", port),
            ("TEMPORAL_UI_PORT", settings.temporal.ui_port),
            ("TEMPORAL_METRICS_PORT", settings.temporal.metrics_port),
        ]
    served = names | {m for c in children for m in c.serves}
    wanted += [
        (f"{name.upper()}_PORT", settings.port(name)) for name in COMPONENTS if name in served
    ]
    wanted += [
        (f"WORKER_{queue.upper()}_HEALTH_PORT", settings.worker_health_port(queue))
        for queue in workers_to_run()
        if f"worker-{queue}" in served
    ]
    wanted += [
        (f"WORKER_{queue.upper()}_METRICS_PORT", settings.worker_metrics_port(queue))
        for queue in workers_to_run()
        if f"worker-{queue}" in served
    ]
    if "prometheus" in names:
        wanted.append(("PROMETHEUS_PORT", prometheus_port(settings)))
    for variable, port in wanted:
        if not port_is_free(settings.host, port):
            raise StackError(
                f"port {port} is already in use ({variable}); stop what holds it "
                f"(another `staysaga up`?) or set {variable} to another port"
            )


def links(settings: Settings) -> list[str]:
    """What `up` prints once everything answers: where to click, then how to stop."""
    s = settings
    targets: list[tuple[str, str]] = []
    if "web" in COMPONENTS:
        targets.append(("website", f"{s.url('web')}/"))
    if s.temporal.dev_server or s.temporal.ui_url:
        namespace = s.temporal.namespace
        targets.append(("Temporal UI", f"{s.temporal_ui_url}/namespaces/{namespace}/workflows"))
        failed = bookings_url(
            s.temporal_ui_url, namespace, BookingState.FAILED, BookingState.EXPIRED
        )
        targets.append(("failed bookings", failed))
    if "mailsink" in COMPONENTS:
        targets.append(("mail inbox", f"{s.url('mailsink')}/"))
    if prometheus_binary() is not None:
        targets.append(("Prometheus alerts", f"{prometheus_url(s)}/alerts"))
    for name in COMPONENTS:
        if name not in ("web", "mailsink"):
            targets.append((f"{COMPONENTS[name].title} API", f"{s.url(name)}/docs"))
    width = max(len(label) for label, _ in targets)
    lines = ["", "staysaga is up. Open:"]
    lines += [f"  {label:<{width}}  {url}" for label, url in targets]
    lines += ["Press Ctrl-C to stop everything.", ""]
    return lines
