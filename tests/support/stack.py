"""The real `staysaga up` on free ports for end-to-end tests (see staysaga.stackprocess)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

from components.settings import load_settings
from staysaga.driver import StackDriver
from staysaga.stackprocess import (
    MARKER,
    READY_LINE,
    StackProcess,
    kill_quietly,
    processes_with,
)

__all__ = [
    "MARKER",
    "READY_LINE",
    "StackProcess",
    "kill_quietly",
    "processes_with",
    "running_stack",
    "stack_driver",
]


@contextlib.contextmanager
def running_stack(
    var_dir: Path, env: dict[str, str] | None = None, ready_timeout: float = 240
) -> Iterator[StackProcess]:
    """`staysaga up` once it is ready; stopped afterwards, leaving no process behind."""
    running = StackProcess(var_dir, env).start()
    try:
        running.wait_for_line(READY_LINE, timeout=ready_timeout)
        yield running
    finally:
        if running.process and running.process.poll() is None:
            running.stop()
        kill_quietly(running.processes())


@contextlib.asynccontextmanager
async def stack_driver(stack: StackProcess) -> AsyncIterator[StackDriver]:
    """A driver of the stack, with the room types of Paris and London to book."""
    opened = await StackDriver.open(load_settings(stack.env))
    if not opened.rooms:
        await opened.load_rooms(("Paris", "London"))
    try:
        yield opened
    finally:
        await opened.close()
