"""Replaying recorded histories against the current workflow code (`staysaga replay`).

A change to workflow code that would break running bookings shows up here as a
nondeterminism error before it is deployed. Guard such changes with `workflow.patched`.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from pathlib import Path

from temporalio.client import Client, WorkflowHistory
from temporalio.converter import DataConverter
from temporalio.worker import Replayer

from temporal.converter import DATA_CONVERTER
from workflows.worker import WORKFLOWS


@dataclass(frozen=True)
class ReplayOutcome:
    """How one history replayed."""

    workflow_id: str
    error: str | None

    @property
    def ok(self) -> bool:
        """Replayed without nondeterminism or failure."""
        return self.error is None


def replayer(converter: DataConverter = DATA_CONVERTER) -> Replayer:
    """A replayer of every workflow the workflow worker hosts (with the payload keys'
    converter for histories whose payloads are encrypted)."""
    return Replayer(workflows=WORKFLOWS, data_converter=converter)


def load_history_file(path: Path) -> WorkflowHistory:
    """A history exported as JSON (Temporal UI, `temporal workflow show -o json`, or ours)."""
    text = path.read_text()
    document = json.loads(text)
    workflow_id = document.get("workflowId") or path.stem
    return WorkflowHistory.from_json(workflow_id, document.get("history", document))


async def replay(
    histories: Iterable[WorkflowHistory] | AsyncIterator[WorkflowHistory],
    converter: DataConverter = DATA_CONVERTER,
) -> list[ReplayOutcome]:
    """Replay every history; never raises for a bad one, reports it instead."""
    outcomes = []
    stream = histories if isinstance(histories, AsyncIterator) else _aiter(histories)
    async with replayer(converter).workflow_replay_iterator(stream) as results:
        async for result in results:
            error = None if result.replay_failure is None else str(result.replay_failure)
            outcomes.append(ReplayOutcome(result.history.workflow_id, error))
    return outcomes


async def _aiter(histories: Iterable[WorkflowHistory]) -> AsyncIterator[WorkflowHistory]:
    for history in histories:
        yield history


def server_histories(
    client: Client, query: str, limit: int | None
) -> AsyncIterator[WorkflowHistory]:
    """Histories of the workflows a visibility query lists."""
    return client.list_workflows(query, limit=limit).map_histories()
