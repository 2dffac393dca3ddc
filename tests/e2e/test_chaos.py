"""`staysaga chaos --quick`: a short fault drill ends with every booking consistent."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid

import pytest

from components.registry import COMPONENTS
from tests.support.stack import kill_quietly, processes_with

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        not {"users", "pdf", "mailsink", "payments", "reservations"} <= set(COMPONENTS),
        reason="the drill books through every service",
    ),
]

# Marks every process of the drill's stack (they inherit it), to clean up after a failure.
RUN_MARKER = "STAYSAGA_CHAOS_TEST_RUN"


def test_a_quick_drill_ends_with_every_booking_confirmed_once_or_failed_cleanly():
    run = uuid.uuid4().hex
    drill = subprocess.Popen(
        [sys.executable, "-m", "staysaga.cli", "chaos", "--quick", "--seed", "7"],
        env={**os.environ, RUN_MARKER: run},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        output, _ = drill.communicate(timeout=600)
    except subprocess.TimeoutExpired:
        drill.send_signal(signal.SIGINT)
        output, _ = drill.communicate(timeout=120)
        pytest.fail(f"the drill did not finish in 10 minutes:\n{output}")
    finally:
        if drill.poll() is None:
            drill.kill()
        kill_quietly(processes_with(f"{RUN_MARKER}={run}"))
    assert drill.returncode == 0, output
    table = output.splitlines()
    heads = next(i for i, line in enumerate(table) if "failed cleanly" in line)
    figures = dict(
        zip(
            ["bookings", "confirmed", "failed", "inconsistent", "stuck"],
            table[heads + 1].split(),
            strict=False,
        )
    )
    assert figures["bookings"] == "12" and figures["inconsistent"] == figures["stuck"] == "0"
    assert int(figures["confirmed"]) + int(figures["failed"]) == 12
    assert "SIGSTOP" in output and "SIGKILL" in output
