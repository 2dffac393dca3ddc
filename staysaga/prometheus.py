"""Prometheus for `staysaga up`: Debian's `prometheus` when installed, scraping every
process of the stack with the alert rules of ops/prometheus/alerts.yml.

Optional: without the binary `up` says so and runs everything else. The scrape
configuration is generated from the registry (every component's /metrics, every worker's
SDK metrics port, the dev server's metrics port), so a component added there is scraped
without a second list to keep. Prometheus listens on loopback only, like the Temporal UI:
it has no login.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from components.registry import COMPONENTS, workers_to_run
from services.common.settings import METRICS_PATH, CommonSettings, Settings
from staysaga.children import Child, Prober, http_probe
from temporal.devserver import LOOPBACK

BINARY = "prometheus"
RULES = Path(__file__).resolve().parent.parent / "ops" / "prometheus" / "alerts.yml"
SCRAPE_INTERVAL = "15s"
# How long the stack's own Prometheus keeps samples: a local tool, not an archive.
RETENTION = "7d"
DEV_SERVER_JOB = "temporal"
# The dev server exports ~9,000 series, four in five of them its histograms' buckets: kept,
# they were most of Prometheus's memory. Its latencies keep their _sum and _count, which
# give their averages; our own processes keep their buckets (p95s, the alerts).
_DROP_BUCKETS = {"source_labels": ["__name__"], "regex": ".+_bucket", "action": "drop"}
_ANY_ADDRESS = {"0.0.0.0", "::", ""}  # noqa: S104 (names the wildcard; binds nothing)


def prometheus_binary() -> str | None:
    """Where Prometheus is installed (Debian's package: /usr/bin/prometheus), if it is."""
    return shutil.which(BINARY)


def prometheus_port(settings: Settings) -> int:
    """The port Prometheus listens on (PROMETHEUS_PORT)."""
    return settings.of(CommonSettings).prometheus_port


def prometheus_url(settings: Settings) -> str:
    """Where an operator opens Prometheus."""
    return f"http://{LOOPBACK}:{prometheus_port(settings)}"


def _scrape_host(settings: Settings) -> str:
    # A stack listening on every address is scraped through loopback.
    return LOOPBACK if settings.host in _ANY_ADDRESS else settings.host


def scrape_jobs(settings: Settings) -> dict[str, str]:
    """job name -> host:port of every process `up` runs that serves metrics."""
    host = _scrape_host(settings)
    jobs: dict[str, str] = {}
    if settings.temporal.dev_server:
        jobs[DEV_SERVER_JOB] = f"{LOOPBACK}:{settings.temporal.metrics_port}"
    jobs.update({name: f"{host}:{settings.port(name)}" for name in COMPONENTS})
    jobs.update(
        {f"worker-{q}": f"{host}:{settings.worker_metrics_port(q)}" for q in workers_to_run()}
    )
    jobs["prometheus"] = f"{LOOPBACK}:{prometheus_port(settings)}"
    return jobs


def scrape_config(
    settings: Settings, rules: Path = RULES, targets: Mapping[str, list[str]] | None = None
) -> dict[str, Any]:
    """Prometheus's configuration: every job of `scrape_jobs` (or `targets`, job by job: a
    job's copies, each scraped alone), the alert rules."""
    if targets is None:
        targets = {job: [target] for job, target in scrape_jobs(settings).items()}
    return {
        "global": {"scrape_interval": SCRAPE_INTERVAL, "evaluation_interval": SCRAPE_INTERVAL},
        "rule_files": [str(rules)],
        "scrape_configs": [_scrape_job(job, found) for job, found in targets.items()],
    }


def _scrape_job(job: str, targets: list[str]) -> dict[str, Any]:
    config: dict[str, Any] = {
        "job_name": job,
        "metrics_path": METRICS_PATH,
        "static_configs": [{"targets": list(targets)}],
    }
    if job == DEV_SERVER_JOB:
        config["metric_relabel_configs"] = [_DROP_BUCKETS]
    return config


def config_file(settings: Settings) -> Path:
    """Where `up` writes Prometheus's configuration (under var/)."""
    return (settings.var_dir / "prometheus" / "prometheus.yml").resolve()


def write_config(settings: Settings, targets: Mapping[str, list[str]] | None = None) -> Path:
    """Write the configuration for these settings; JSON is YAML, so no YAML writer."""
    path = config_file(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(scrape_config(settings, targets=targets), indent=2)
    path.write_text(f"# Written by `staysaga up` from the component registry.\n{text}\n")
    return path


def prometheus_child(settings: Settings, http: Prober, binary: str) -> Child:
    """Prometheus as a child of the stack, its data under var/prometheus/."""
    address = f"{LOOPBACK}:{prometheus_port(settings)}"
    data = (settings.var_dir / "prometheus" / "data").resolve()
    argv = [
        binary,
        f"--config.file={config_file(settings)}",
        f"--storage.tsdb.path={data}",
        f"--storage.tsdb.retention.time={RETENTION}",
        f"--web.listen-address={address}",
        "--log.level=warn",
    ]
    url = f"http://{address}"
    return Child(
        "prometheus",
        argv,
        http_probe(url + "/-/ready", http),
        liveness=http_probe(url + "/-/healthy", http),
    )
