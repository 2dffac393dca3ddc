"""Every activity the workflow schedules is served by the worker of its task queue, and
the production workers serve nothing of the benchmark's."""

import re
from pathlib import Path

from temporalio import activity

from activities import models as act
from activities.worker import QUEUES
from components.registry import WORKERS
from components.settings import load_settings
from services.common.http import ServiceConnections
from temporal.names import TaskQueue
from workflows.baseline import BaselineWorkflow
from workflows.booking import BookingWorkflow
from workflows.worker import WORKFLOWS


def _served() -> dict[str, set[str]]:
    clients = ServiceConnections(load_settings({}))
    served = {}
    for queue, build in QUEUES.items():
        names = {activity._Definition.must_from_callable(f).name for f in build(clients)}
        served[queue.value] = names
    return served


def test_each_scheduled_activity_is_registered_on_its_queue():
    source = (Path(__file__).parents[2] / "workflows" / "steps.py").read_text()
    # Every `step(act.NAME, ..., TaskQueue.QUEUE, ...)` of the workflow's steps.
    steps = re.findall(r"\bstep\(\s*act\.(\w+),.*?TaskQueue\.(\w+)", source, flags=re.S)
    emails = "notifications" if "act.SEND_EMAIL" in source else None
    served = _served()
    assert steps, "the pattern found no steps"
    for constant, queue in steps:
        name = getattr(act, constant)
        assert name in served[TaskQueue[queue].value], (name, queue)
    assert emails and act.SEND_EMAIL in served[emails]


def test_no_production_worker_serves_the_benchmarks_noop():
    assert all(act.NOOP not in names for names in _served().values())


def test_the_booking_worker_hosts_no_benchmark_workflow():
    assert BaselineWorkflow not in WORKFLOWS
    assert BookingWorkflow in WORKFLOWS


def test_every_worker_of_the_registry_that_calls_a_service_has_activities():
    assert set(QUEUES) == {queue for queue, worker in WORKERS.items() if worker.calls}
    assert set(WORKERS) == set(TaskQueue)
