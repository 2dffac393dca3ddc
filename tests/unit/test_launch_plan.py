"""What `staysaga up` starts, in which order."""

import asyncio
import json
import socket
from types import SimpleNamespace

import pytest

from components.registry import COMPONENTS, oauth_clients, workers_to_run
from staysaga import launchplan
from staysaga import stack as stack_module
from staysaga.chaos import Drill
from staysaga.children import StackError
from staysaga.prometheus import RULES, config_file, scrape_config, write_config
from staysaga.stack import Stack
from tests.support.harness import settings_for


def test_auth_starts_right_after_temporal(tmp_path):
    names = [child.name for child in Stack(settings_for(tmp_path)).plan()]
    assert names[:2] == ["temporal", "auth"]


def test_every_process_has_a_readiness_probe_and_workers_a_liveness_probe(tmp_path):
    children = Stack(settings_for(tmp_path)).plan()
    assert all(child.probe is not None for child in children)
    workers = [child for child in children if child.name.startswith("worker-")]
    assert workers and all(child.liveness is not None for child in workers)


def test_the_temporal_dev_server_and_its_ui_listen_on_loopback_only(tmp_path):
    # Neither has a login: even a stack told to listen everywhere keeps them on this machine.
    settings = settings_for(
        tmp_path,
        {"STAYSAGA_HOST": "0.0.0.0", "TEMPORAL_ADDRESS": "0.0.0.0:7233"},  # noqa: S104
    )
    (temporal,) = [c for c in Stack(settings).plan() if c.name == "temporal"]
    args = list(temporal.argv)
    assert args[args.index("--ip") + 1] == "127.0.0.1"
    assert args[args.index("--ui-ip") + 1] == "127.0.0.1"
    assert args[args.index("--port") + 1] == "7233"


def test_prometheus_starts_last_when_installed_and_is_skipped_when_not(tmp_path, monkeypatch):
    settings = settings_for(tmp_path)
    monkeypatch.setattr(launchplan, "prometheus_binary", lambda: "/usr/bin/prometheus")
    names = [child.name for child in Stack(settings).plan()]
    assert names[-1] == "prometheus"
    (child,) = [c for c in Stack(settings).plan() if c.name == "prometheus"]
    assert "--web.listen-address=127.0.0.1:9090" in child.argv
    assert f"--config.file={config_file(settings)}" in child.argv
    assert any("Prometheus" in line for line in launchplan.links(settings))

    monkeypatch.setattr(launchplan, "prometheus_binary", lambda: None)
    assert "prometheus" not in [child.name for child in Stack(settings).plan()]
    assert not any("Prometheus" in line for line in launchplan.links(settings))


def test_the_scrape_config_covers_every_process_up_runs(tmp_path):
    settings = settings_for(tmp_path, {"WORKER_PAYMENTS_METRICS_PORT": "9213"})
    config = scrape_config(settings)
    targets = {
        job["job_name"]: (job["metrics_path"], job["static_configs"][0]["targets"])
        for job in config["scrape_configs"]
    }
    assert set(targets) == {
        "temporal",
        *COMPONENTS,
        *(f"worker-{queue}" for queue in workers_to_run()),
        "prometheus",
    }
    assert targets["payments"] == ("/metrics", [f"127.0.0.1:{settings.port('payments')}"])
    assert targets["worker-payments"] == ("/metrics", ["127.0.0.1:9213"])
    assert targets["temporal"] == ("/metrics", [f"127.0.0.1:{settings.temporal.metrics_port}"])
    assert config["rule_files"] == [str(RULES)] and RULES.is_file()
    # Only the dev server's histogram buckets are dropped at the scrape.
    relabelled = {
        job["job_name"]: job["metric_relabel_configs"]
        for job in config["scrape_configs"]
        if "metric_relabel_configs" in job
    }
    assert relabelled == {
        "temporal": [{"source_labels": ["__name__"], "regex": ".+_bucket", "action": "drop"}]
    }


def test_the_written_config_is_the_generated_one(tmp_path):
    settings = settings_for(tmp_path)
    written = write_config(settings)
    assert written == config_file(settings)
    assert json.loads(written.read_text().split("\n", 1)[1]) == scrape_config(settings)


def test_a_taken_prometheus_port_is_refused_naming_its_variable(tmp_path, monkeypatch):
    monkeypatch.setattr(launchplan, "prometheus_binary", lambda: "/usr/bin/prometheus")
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        stack = Stack(settings_for(tmp_path, {"PROMETHEUS_PORT": str(port)}))
        prometheus = [child for child in stack.plan() if child.name == "prometheus"]
        with pytest.raises(StackError, match="PROMETHEUS_PORT"):
            stack.check_ports(prometheus)


def test_the_dev_server_serves_its_metrics_on_the_configured_port(tmp_path):
    settings = settings_for(tmp_path, {"TEMPORAL_METRICS_PORT": "9234"})
    (temporal,) = [c for c in Stack(settings).plan() if c.name == "temporal"]
    args = list(temporal.argv)
    assert args[args.index("--metrics-port") + 1] == "9234"


async def test_up_says_prometheus_is_skipped_when_absent_and_writes_its_config_when_present(
    tmp_path, monkeypatch
):
    async def no_seed(self: Stack) -> None:
        return None

    monkeypatch.setattr(Stack, "_seed", no_seed)
    lines: list[str] = []
    settings = settings_for(tmp_path / "var")

    async def prepare() -> None:
        stack = Stack(settings, out=lines.append)
        try:
            await stack.prepare()
        finally:
            await stack.http.aclose()

    monkeypatch.setattr(stack_module, "prometheus_binary", lambda: None)
    await prepare()
    assert any("Prometheus is not installed" in line for line in lines)
    assert not config_file(settings).exists()

    monkeypatch.setattr(stack_module, "prometheus_binary", lambda: "/usr/bin/prometheus")
    lines.clear()
    await prepare()
    assert not any("Prometheus" in line for line in lines)
    assert config_file(settings).is_file()


def test_only_the_stand_ins_and_the_codec_beside_the_workflow_worker_share_a_process(tmp_path):
    # The two stand-ins for third parties hold no OAuth client: one interpreter serves both
    # apps, each on its own port. The operators' payload codec (no OAuth client, no
    # database, the payload keys every worker holds) is served by the workflow worker, as
    # that worker's client. Every component with a client of its own keeps its process.
    children = Stack(settings_for(tmp_path)).plan()
    shared = {c.name: (c.argv[3:], c.serves, c.client_id) for c in children if c.serves}
    assert shared == {
        "bank+mailsink": (["serve", "bank", "mailsink"], ("bank", "mailsink"), "bank+mailsink"),
        "worker-booking+codec": (
            ["worker", "booking", "--serve", "codec"],
            ("worker-booking", "codec"),
            "worker-booking",
        ),
    }
    served = [name for child in children for name in (child.serves or (child.name,))]
    assert set(COMPONENTS) <= set(served)
    assert len(served) == len(set(served))
    assert all(COMPONENTS[name].scopes is None for name in ("bank", "mailsink", "codec"))
    assert "bank+mailsink" not in oauth_clients() and "worker-booking" in oauth_clients()


async def test_a_child_waiting_for_the_bank_starts_once_the_shared_process_is_ready(tmp_path):
    stack = Stack(settings_for(tmp_path))
    events: list[str] = []

    async def spawn(child, index):  # type: ignore[no-untyped-def]
        events.append(f"start {child.name}")

    async def wait_ready(child):  # type: ignore[no-untyped-def]
        for _ in range(20):  # give every other start its turns on the loop meanwhile
            await asyncio.sleep(0)
        events.append(f"ready {child.name}")

    async def watch(child):  # type: ignore[no-untyped-def]
        return None

    stack._spawn = spawn  # type: ignore[method-assign]
    stack._wait_ready = wait_ready  # type: ignore[method-assign]
    stack._watch = watch  # type: ignore[method-assign]
    children = [c for c in stack.plan() if c.name in ("payments", "users", "bank+mailsink")]
    for child in children:
        child.after = tuple(a for a in child.after if a in ("bank", "mailsink"))
    assert {a for c in children for a in c.after} == {"bank", "mailsink"}
    await stack._start_all(children)
    assert events[:2] == ["start bank+mailsink", "ready bank+mailsink"]
    assert sorted(events[2:]) == [
        "ready payments",
        "ready users",
        "start payments",
        "start users",
    ]


def test_a_taken_port_of_either_app_of_the_shared_process_is_refused(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        stack = Stack(settings_for(tmp_path, {"MAILSINK_PORT": str(port)}))
        shared = [child for child in stack.plan() if child.serves]
        with pytest.raises(StackError, match="MAILSINK_PORT"):
            stack.check_ports(shared)


def test_a_taken_codec_port_is_refused_for_the_workflow_worker_that_serves_it(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        stack = Stack(settings_for(tmp_path, {"CODEC_PORT": str(port)}))
        worker = [child for child in stack.plan() if "codec" in child.serves]
        with pytest.raises(StackError, match="CODEC_PORT"):
            stack.check_ports(worker)


def test_children_skip_pydantics_plugin_search_unless_told_otherwise(tmp_path, monkeypatch):
    monkeypatch.delenv("PYDANTIC_DISABLE_PLUGINS", raising=False)
    stack = Stack(settings_for(tmp_path))
    (search,) = [child for child in stack.plan() if child.name == "search"]
    assert stack.child_environment(search)["PYDANTIC_DISABLE_PLUGINS"] == "__all__"
    monkeypatch.setenv("PYDANTIC_DISABLE_PLUGINS", "none")
    assert stack.child_environment(search)["PYDANTIC_DISABLE_PLUGINS"] == "none"


def test_the_fault_drill_finds_a_shared_process_by_either_components_name(tmp_path):
    drill = object.__new__(Drill)  # no stack of its own: only the process lookup is tried
    processes = {11: "bank+mailsink", 12: "worker-booking+codec", 13: "search"}
    drill.stack = SimpleNamespace(processes=lambda: processes)  # type: ignore[assignment]
    assert drill._pids("bank") == drill._pids("mailsink") == [11]
    assert drill._pids("worker-booking") == drill._pids("codec") == [12]
    assert drill._pids("search") == [13] and drill._pids("pdf") == []
