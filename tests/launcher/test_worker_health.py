"""A worker's health endpoint: alive at once, ready only once the server sees it poll."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys
import uuid

import httpx
import pytest
from temporalio import activity
from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client
from temporalio.worker import Worker

from temporal.health import WorkerHealth, serve_health
from tests.support.harness import eventually, free_port


@activity.defn(name="health-test-noop")
async def noop() -> None:
    """Nothing: the worker needs one activity to poll for."""


async def _get(port: int, path: str) -> httpx.Response:
    async with httpx.AsyncClient(timeout=2.0) as http:
        return await http.get(f"http://127.0.0.1:{port}{path}")


async def _pollers(client: Client, queue: str, kind: TaskQueueType.ValueType) -> set[str]:
    described = await client.workflow_service.describe_task_queue(
        DescribeTaskQueueRequest(
            namespace=client.namespace, task_queue=TaskQueue(name=queue), task_queue_type=kind
        )
    )
    return {poller.identity for poller in described.pollers}


@pytest.mark.devserver
async def test_ready_only_once_the_worker_runs_and_the_server_sees_it_poll(dev_server_env):
    client = dev_server_env.client
    queue = f"health-{uuid.uuid4().hex}"
    health = WorkerHealth()
    port = free_port()
    server = await serve_health("127.0.0.1", port, health)
    try:
        assert (await _get(port, "/healthz")).status_code == 200
        before = await _get(port, "/readyz")
        assert before.status_code == 503
        assert before.json()["reason"] == "the worker has not started"

        worker = Worker(client, task_queue=queue, activities=[noop])
        with health.watching(worker):
            waiting = await _get(port, "/readyz")
            assert waiting.status_code == 503
            assert "is not running" in waiting.json()["reason"]

            running = asyncio.create_task(worker.run())
            try:

                async def ready() -> None:
                    response = await _get(port, "/readyz")
                    assert response.status_code == 200, response.text

                await eventually(ready, timeout=30)
                activity_pollers = TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY
                assert client.identity in await _pollers(client, queue, activity_pollers)
                assert (await _get(port, "/elsewhere")).status_code == 404
            finally:
                await worker.shutdown()
                await running
        assert (await _get(port, "/readyz")).status_code == 503
    finally:
        server.close()


@pytest.mark.devserver
async def test_staysaga_worker_serves_its_health_and_metrics_on_its_ports(dev_server_env, tmp_path):
    client = dev_server_env.client
    port, metrics_port = free_port(), free_port()
    env = {
        **os.environ,
        "TEMPORAL_ADDRESS": client.service_client.config.target_host,
        "WORKER_BOOKING_HEALTH_PORT": str(port),
        "WORKER_BOOKING_METRICS_PORT": str(metrics_port),
        "STAYSAGA_VAR_DIR": str(tmp_path),
    }
    worker = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "staysaga.cli",
        "worker",
        "booking",
        env=env,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:

        async def ready() -> None:
            assert worker.returncode is None
            response = await _get(port, "/readyz")
            assert response.status_code == 200, response.text

        await eventually(ready, timeout=60)
        assert (await _get(port, "/healthz")).status_code == 200
        pollers = await _pollers(client, "booking", TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW)
        assert any(identity.startswith(f"{worker.pid}@") for identity in pollers)
        # The Temporal SDK's own metrics, for Prometheus: its pollers of the booking queue.
        metrics = await _get(metrics_port, "/metrics")
        assert metrics.status_code == 200
        assert "temporal_num_pollers{" in metrics.text and 'task_queue="booking"' in metrics.text
        worker.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(worker.wait(), 30) == 0
    finally:
        with contextlib.suppress(ProcessLookupError):
            worker.kill()
        await asyncio.wait_for(worker.wait(), 30)


async def test_a_taken_health_port_stops_the_worker_naming_its_variable(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        env = {
            **os.environ,
            "WORKER_PAYMENTS_HEALTH_PORT": str(busy.getsockname()[1]),
            "WORKER_PAYMENTS_METRICS_PORT": str(free_port()),
            "STAYSAGA_VAR_DIR": str(tmp_path),
        }
        worker = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "staysaga.cli",
            "worker",
            "payments",
            env=env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        output, _ = await asyncio.wait_for(worker.communicate(), 60)
    assert worker.returncode == 1
    assert b"WORKER_PAYMENTS_HEALTH_PORT" in output


async def test_a_taken_metrics_port_stops_the_worker_naming_its_variable(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        env = {
            **os.environ,
            "WORKER_PAYMENTS_HEALTH_PORT": str(free_port()),
            "WORKER_PAYMENTS_METRICS_PORT": str(busy.getsockname()[1]),
            "STAYSAGA_VAR_DIR": str(tmp_path),
        }
        worker = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "staysaga.cli",
            "worker",
            "payments",
            env=env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        output, _ = await asyncio.wait_for(worker.communicate(), 60)
    assert worker.returncode == 1
    assert b"WORKER_PAYMENTS_METRICS_PORT" in output
