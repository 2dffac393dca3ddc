"""The booking worker keeps a bounded number of workflows in memory: bookings stay open
until their stay, and with the SDK's default of 1,000 cached workflows the worker grew
by about 0.4 MB with every booking."""

from __future__ import annotations

from typing import Any

import pytest

import temporal.worker
import workflows.worker
from tests.support.harness import settings_for


class _Worker:
    """Stands in for the SDK's worker: records its options, stops at once."""

    created: dict[str, Any] = {}

    def __init__(self, client: object, **options: Any) -> None:
        _Worker.created = options
        self.task_queue = options["task_queue"]
        self.is_running = False

    async def run(self) -> None:
        return None


@pytest.fixture
def booking_worker(monkeypatch):
    async def connect(_settings: object) -> object:
        return object()

    async def no_schedule(_client: object, _settings: object) -> None:
        return None

    monkeypatch.setattr(temporal.worker, "Worker", _Worker)
    monkeypatch.setattr(workflows.worker, "connect", connect)
    monkeypatch.setattr(workflows.worker, "ensure_reconciler_schedule", no_schedule)
    return workflows.worker.main


@pytest.mark.parametrize(
    ("env", "cached"), [({}, 100), ({"WORKER_BOOKING_CACHED_WORKFLOWS": "40"}, 40)]
)
async def test_the_booking_worker_caches_at_most_the_configured_workflows(
    booking_worker, tmp_path, env, cached
):
    await booking_worker(settings_for(tmp_path, env))
    assert _Worker.created["task_queue"] == "booking"
    assert _Worker.created["max_cached_workflows"] == cached
