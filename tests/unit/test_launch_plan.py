"""What `staysaga up` starts, in which order."""

import json
import socket

import pytest

from components.registry import COMPONENTS, workers_to_run
from staysaga import launchplan
from staysaga import stack as stack_module
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
