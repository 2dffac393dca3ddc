"""The benchmark's baseline runs on the benchmark's own workers, on queues of its own."""

from __future__ import annotations

import asyncio
import os
import signal
import uuid
from datetime import timedelta

from staysaga.bench_stack import start_baseline_workers
from staysaga.bench_workers import baseline_workers, running_baseline_workers
from temporal.names import TaskQueue
from workflows.baseline import BASELINE_WORKFLOW_TYPE, BOOKING_SHAPE, baseline_queue


async def test_the_baseline_runs_a_bookings_steps_on_the_benchmarks_workers(time_skipping_env):
    client = time_skipping_env.client
    async with running_baseline_workers(client):
        steps = await client.execute_workflow(
            BASELINE_WORKFLOW_TYPE,
            len(BOOKING_SHAPE),
            id=f"baseline-{uuid.uuid4().hex}",
            task_queue=baseline_queue(TaskQueue.BOOKING),
            result_type=int,
            # Time is skipped: a step no worker serves fails the run at once, not never.
            execution_timeout=timedelta(minutes=10),
        )
    assert steps == 7


async def test_the_benchmarks_workers_poll_none_of_the_production_queues(time_skipping_env):
    polled = {worker.task_queue for worker in baseline_workers(time_skipping_env.client)}
    assert polled == {baseline_queue(q) for q in TaskQueue}
    assert polled.isdisjoint(set(TaskQueue))


async def test_the_benchmark_starts_its_workers_as_a_process_of_their_own(dev_server_env, tmp_path):
    client = dev_server_env.client
    # A folder of its own: a developer's var/ (after `./dev up`) holds the stack's payload
    # keys, and workers that found them would encrypt what this plain client must read.
    env = {
        **os.environ,
        "TEMPORAL_ADDRESS": client.service_client.config.target_host,
        "STAYSAGA_VAR_DIR": str(tmp_path),
    }
    workers = await asyncio.to_thread(start_baseline_workers, env)
    try:
        steps = await client.execute_workflow(
            BASELINE_WORKFLOW_TYPE,
            2,
            id=f"baseline-{uuid.uuid4().hex}",
            task_queue=baseline_queue(TaskQueue.BOOKING),
            result_type=int,
            execution_timeout=timedelta(seconds=60),
        )
    finally:
        workers.send_signal(signal.SIGINT)
        returncode = await asyncio.to_thread(workers.wait, 30)
    assert steps == 2
    assert returncode == 0
