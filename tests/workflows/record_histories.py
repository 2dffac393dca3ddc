"""Records the committed histories: `python -m tests.workflows.record_histories [NAME...]`.

Runs paths of the saga (happy, decline, expiry, cancel) on the time-skipping server with
the stand-in activities and writes each history as JSON under histories/. Re-record only
on purpose: these files pin the behaviour running bookings depend on. After a change
guarded by `workflow.patched`, keep the old files (they replay the old path) and record
the new path under a new name, naming only it.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

from temporalio.client import WorkflowHandle

from tests.conftest import start_time_skipping
from tests.workflows.standins import World
from tests.workflows.test_booking import awaiting_payment, bookings, pay
from workflows.models import UPDATE_CANCEL, CancellationQuote, CancelRequest

HERE = Path(__file__).parent / "histories"


async def _happy(handle: WorkflowHandle) -> None:
    await awaiting_payment(handle)
    await pay(handle)


async def _cancel(handle: WorkflowHandle) -> None:
    await _happy(handle)
    await handle.execute_update(UPDATE_CANCEL, CancelRequest(), result_type=CancellationQuote)


SCENARIOS = {
    "happy": (World(), _happy),
    "decline": (World(decline=True), _happy),
    "expiry": (World(), None),
    "cancel": (World(), _cancel),
    # Recorded after PATCH_PARALLEL_START: the catalogue lookup and the hold together.
    "happy-describe-and-hold": (World(), _happy),
}


async def record(names: list[str]) -> None:
    """Run each scenario named (every one if none is) to its end and save its history."""
    for name in names or list(SCENARIOS):
        world, drive = SCENARIOS[name]
        env = await start_time_skipping()
        try:
            async with bookings(env, world) as running:
                handle = await running.start(check_in_days=5, nights=2)
                if drive is not None:
                    await drive(handle)
                await handle.result()
                history = await handle.fetch_history()
        finally:
            await env.shutdown()
        document = {"workflowId": handle.id, "history": json.loads(history.to_json())}
        (HERE / f"{name}.json").write_text(json.dumps(document, indent=1) + "\n")
        print(f"recorded {name}: {len(history.events)} events")


if __name__ == "__main__":
    asyncio.run(record(sys.argv[1:]))
    sys.stdout.flush()
    os._exit(0)
