"""Concurrent searches share their calls to Reservations.

Each dated search needs one availability question answered (its candidate hotels, one
stay). Asked one call per search, a busy Search spends most of its CPU, and most of
Reservations', on the HTTP of those calls rather than on the answers (`staysaga bench
search` measured about two thirds). So questions queue here and go out together: a few
calls ("lanes") run at once, and each takes every question that queued while it was busy,
up to MAX_SEARCHES_PER_CALL. A lone search goes out at once, so nobody waits for a batch
to fill; the busier Search is, the more searches share a call.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from services.common.logging import request_id_var
from services.reservations.api import MAX_SEARCHES_PER_CALL

log = logging.getLogger("staysaga.search.availability")

# Calls to Reservations in flight at once. With one, Reservations idles while Search reads
# each answer (a fifth less throughput in `staysaga bench search`); four did no better.
LANES = 2

Question = dict[str, Any]
"""An `api.BatchAvailabilityRequest`'s JSON fields."""
Result = dict[str, Any]
"""An `api.SearchResult`'s JSON fields: {"status": ..., "body": ...}."""
Call = Callable[[list[Question]], Awaitable[list[Result]]]
"""Sends questions in one call; answers one result each, in order."""
_Waiting = tuple[Question, "asyncio.Future[Result]", str | None]
"""A queued question, the future its search awaits, and that search's request id."""


class AvailabilityBatcher:
    """Queues availability questions and sends them in shared calls."""

    def __init__(
        self, call: Call, lanes: int = LANES, max_per_call: int = MAX_SEARCHES_PER_CALL
    ) -> None:
        self._call = call
        self.lanes = lanes
        self.max_per_call = max_per_call
        self._queue: list[_Waiting] = []
        self._running: set[asyncio.Task[None]] = set()

    async def ask(self, question: Question) -> Result:
        """This question's result; raises what the call raised if it failed as a whole."""
        future: asyncio.Future[Result] = asyncio.get_running_loop().create_future()
        self._queue.append((question, future, request_id_var.get()))
        if len(self._running) < self.lanes:
            # Its own context: a call serves several requests, not the one that opened it.
            self._running.add(asyncio.create_task(self._lane(), context=contextvars.Context()))
        return await future

    async def _lane(self) -> None:
        # Started by the ask above, it runs on the next turn of the loop, so it takes the
        # questions of every request that turn handled; then whatever queued meanwhile.
        try:
            while self._queue:
                batch = [item for item in self._queue[: self.max_per_call] if not item[1].done()]
                del self._queue[: self.max_per_call]
                if batch:
                    await self._send(batch)
        finally:
            # Leaves the count in the same step that found the queue empty: a done callback
            # would run a turn later, and a question asked in between would find every
            # lane counted and none left to take it.
            self._running.discard(asyncio.current_task())

    async def _send(self, batch: list[_Waiting]) -> None:
        if log.isEnabledFor(logging.DEBUG):
            log.debug("availability for %d searches: %s", len(batch), [b[2] for b in batch])
        try:
            results = await self._call([question for question, _, _ in batch])
            if len(results) != len(batch):
                raise RuntimeError(f"{len(results)} results for {len(batch)} searches")
        except asyncio.CancelledError:
            for _, future, _ in batch:
                future.cancel()
            raise
        except Exception as exc:
            for _, future, _ in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        for (_, future, _), result in zip(batch, results, strict=True):
            if not future.done():
                future.set_result(result)

    async def aclose(self) -> None:
        """Stop the calls in flight; their searches, and those queued, are cancelled."""
        lanes = list(self._running)
        for lane in lanes:
            lane.cancel()
        for lane in lanes:
            with contextlib.suppress(asyncio.CancelledError):
                await lane
        for _, future, _ in self._queue:
            future.cancel()
        self._queue.clear()
