"""The Temporal SDK's own metrics, served to Prometheus by a worker process.

The SDK's core counts workflow and activity tasks, their failures (a workflow task that
fails on nondeterminism included), latencies, pollers and slots; the saga's business
metrics (workflows/metrics.py) go out on the same endpoint. One runtime a process,
made before its first client: every client and worker of the process reports through it.
"""

from __future__ import annotations

from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig


def prometheus_runtime(host: str, port: int) -> Runtime:
    """A runtime serving the SDK's metrics at http://host:port/metrics.

    Named as Prometheus expects: counters end in `_total`, durations are in seconds and
    say so (the SDK's defaults are bare names and milliseconds).
    """
    config = PrometheusConfig(
        bind_address=f"{host}:{port}",
        counters_total_suffix=True,
        unit_suffix=True,
        durations_as_seconds=True,
    )
    return Runtime(telemetry=TelemetryConfig(metrics=config))
