"""The suite runs in parallel workers (pytest-xdist), each of which collects every test
itself: a test id that differs from one process to the next (a random parameter in it)
stops the whole run before any test runs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_every_test_has_the_same_id_in_another_process(request: pytest.FixtureRequest):
    collected = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    theirs = {line for line in collected.stdout.splitlines() if "::" in line}
    assert theirs, collected.stdout[-2000:] + collected.stderr[-2000:]
    ours = {item.nodeid for item in request.session.items}
    assert ours - theirs == set()
