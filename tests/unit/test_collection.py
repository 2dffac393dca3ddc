"""The suite runs in parallel workers (pytest-xdist), each of which collects every test
itself: a test id that differs from one process to the next (a random parameter in it)
stops the whole run before any test runs. The long files come first, so that the
workers start them at once."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LONG_FIRST_DIRS = ("tests/browser/", "tests/e2e/", "tests/launcher/", "tests/fuzz/")


@pytest.fixture(scope="module")
def collected() -> list[str]:
    """Every test id of the suite, in the order it runs, as another process collects it."""
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    ids = [line for line in result.stdout.splitlines() if "::" in line]
    assert ids, result.stdout[-2000:] + result.stderr[-2000:]
    return ids


def test_every_test_has_the_same_id_in_another_process(
    request: pytest.FixtureRequest, collected: list[str]
):
    ours = {item.nodeid for item in request.session.items}
    assert ours - set(collected) == set()


def test_the_long_files_run_first(collected: list[str]):
    files = [test_id.split("::")[0] for test_id in collected]
    long = [i for i, f in enumerate(files) if f.startswith(LONG_FIRST_DIRS)]
    assert long, "no browser, end-to-end, launcher or fuzz test was collected"
    assert long == list(range(len(long)))
