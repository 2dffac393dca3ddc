"""A worker process's health endpoint, for `staysaga up` (or any orchestrator) to probe.

A Temporal worker has no HTTP API of its own, so `staysaga worker <queue>` also answers two
paths on `WORKER_<QUEUE>_HEALTH_PORT`, from the event loop that runs the worker:

- `/healthz`: 200 while that loop runs. A frozen or wedged process stops answering.
- `/readyz`: 200 once the worker runs (`Worker.is_running`: the SDK has checked the
  namespace with the server and started its pollers) and the server lists this worker's
  identity among the pollers of its task queue (DescribeTaskQueue); 503 with the reason
  before. A server that will not describe task queues (no permission) is taken at the
  SDK's word.

An HTTP port rather than a heartbeat file: the launcher probes workers exactly as it
probes services, a probe needs no shared folder and no clock, and the answer comes from
the loop that does the polling. The server is a few lines over asyncio streams: no
framework, no second event loop, no signal handlers of its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Iterator
from datetime import timedelta

from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.service import RPCError, RPCStatusCode
from temporalio.worker import Worker

_READ_TIMEOUT = 5.0
_DESCRIBE_TIMEOUT = timedelta(seconds=2)
_REASONS = {200: "OK", 404: "Not Found", 503: "Service Unavailable"}


class WorkerHealth:
    """The workers a process runs, and whether the server has seen each poll its queue."""

    def __init__(self) -> None:
        self._workers: list[Worker] = []
        self._seen_polling: set[Worker] = set()

    @contextlib.contextmanager
    def watching(self, worker: Worker) -> Iterator[None]:
        """Report on `worker` while the block runs."""
        self._workers.append(worker)
        try:
            yield
        finally:
            self._workers.remove(worker)
            self._seen_polling.discard(worker)

    async def not_ready(self) -> str | None:
        """None once every worker polls its task queue, else why not."""
        if not self._workers:
            return "the worker has not started"
        for worker in self._workers:
            if not worker.is_running:
                return f"the worker of task queue {worker.task_queue} is not running"
            if worker in self._seen_polling:
                continue
            if not await _server_sees_polling(worker):
                return f"the server has not seen a poll of task queue {worker.task_queue} yet"
            self._seen_polling.add(worker)
        return None


# `staysaga worker` runs one worker a process; temporal.worker reports it here.
PROCESS_HEALTH = WorkerHealth()


async def _server_sees_polling(worker: Worker) -> bool:
    client = worker.client
    config = worker.config()
    identity = config.get("identity") or client.identity
    kinds = []
    if config.get("workflows"):
        kinds.append(TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW)
    if config.get("activities"):
        kinds.append(TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY)
    for kind in kinds:
        request = DescribeTaskQueueRequest(
            namespace=client.namespace,
            task_queue=TaskQueue(name=worker.task_queue),
            task_queue_type=kind,
        )
        try:
            described = await client.workflow_service.describe_task_queue(
                request, timeout=_DESCRIBE_TIMEOUT
            )
        except RPCError as error:
            if error.status in (RPCStatusCode.PERMISSION_DENIED, RPCStatusCode.UNIMPLEMENTED):
                continue
            raise
        if not any(poller.identity == identity for poller in described.pollers):
            return False
    return True


async def serve_health(
    host: str, port: int, health: WorkerHealth = PROCESS_HEALTH
) -> asyncio.Server:
    """Answer /healthz and /readyz on host:port from now on; close the server to stop."""

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), _READ_TIMEOUT)
            parts = head.split(b" ", 2)
            path = parts[1].split(b"?", 1)[0] if len(parts) > 1 else b""
            status, body = await _route(path, health)
            payload = json.dumps(body).encode()
            writer.write(
                f"HTTP/1.1 {status} {_REASONS[status]}\r\n"
                "Content-Type: application/json\r\n"
                f"Content-Length: {len(payload)}\r\n"
                "Connection: close\r\n\r\n".encode()
                + payload
            )
            await writer.drain()
        except (
            TimeoutError,
            ConnectionError,
            asyncio.IncompleteReadError,
            asyncio.LimitOverrunError,
        ):
            pass
        finally:
            writer.close()

    return await asyncio.start_server(answer, host, port)


async def _route(path: bytes, health: WorkerHealth) -> tuple[int, dict[str, str]]:
    if path == b"/healthz":
        return 200, {"status": "ok"}
    if path != b"/readyz":
        return 404, {"status": "not-found"}
    try:
        reason = await health.not_ready()
    except Exception as exc:
        reason = f"cannot ask the server: {exc}"
    if reason is None:
        return 200, {"status": "ready"}
    return 503, {"status": "not-ready", "reason": reason}
