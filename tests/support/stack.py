"""The real `staysaga up` on free ports for end-to-end tests (see staysaga.stackprocess)."""

from staysaga.stackprocess import (
    MARKER,
    READY_LINE,
    StackProcess,
    kill_quietly,
    processes_with,
)

__all__ = ["MARKER", "READY_LINE", "StackProcess", "kill_quietly", "processes_with"]
