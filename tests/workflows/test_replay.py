"""The committed histories replay against the current workflow code, and a change that
would break running bookings is caught — by the test and by `staysaga replay`."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from workflows.replay import load_history_file, replay

HISTORIES = sorted((Path(__file__).parent / "histories").glob("*.json"))


def test_the_four_paths_are_committed_and_the_patched_start_too():
    assert {p.stem for p in HISTORIES} == {
        "happy",
        "decline",
        "expiry",
        "cancel",
        "happy-describe-and-hold",  # after PATCH_PARALLEL_START
    }


@pytest.mark.parametrize("path", HISTORIES, ids=lambda p: p.stem)
async def test_committed_history_replays_on_current_code(path):
    (outcome,) = await replay([load_history_file(path)])
    assert outcome.ok, outcome.error


@pytest.mark.parametrize("path", HISTORIES, ids=lambda p: p.stem)
def test_histories_hold_no_card_number_or_email(path):
    text = path.read_text()
    assert "4242424242424242" not in text
    addresses = set(re.findall(r"[\w.+-]+@[\w-]+\.[\w.-]+", text))
    assert not addresses, addresses


def _tampered(tmp_path: Path) -> Path:
    """The happy history, as if the code had once held the room with another activity."""
    document = json.loads((Path(__file__).parent / "histories" / "happy.json").read_text())
    for event in document["history"]["events"]:
        attributes = event.get("activityTaskScheduledEventAttributes")
        if attributes and attributes["activityType"]["name"] == "hold_room":
            attributes["activityType"]["name"] = "reserve_room_v0"
    path = tmp_path / "tampered.json"
    path.write_text(json.dumps(document))
    return path


async def test_a_nondeterministic_change_fails_replay(tmp_path):
    (outcome,) = await replay([load_history_file(_tampered(tmp_path))])
    assert not outcome.ok
    assert "nondetermin" in outcome.error.lower() or "mismatch" in outcome.error.lower()


def test_cli_replay_exits_zero_on_good_and_nonzero_on_bad_histories(tmp_path):
    good = subprocess.run(
        [sys.executable, "-m", "staysaga.cli", "replay", *map(str, HISTORIES)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert good.returncode == 0, good.stdout + good.stderr
    assert f"replayed {len(HISTORIES)} histories, 0 failed" in good.stdout

    bad = subprocess.run(
        [sys.executable, "-m", "staysaga.cli", "replay", str(_tampered(tmp_path))],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert bad.returncode == 1
    assert "FAILED" in bad.stdout


def test_cli_replay_names_a_missing_file(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "staysaga.cli", "replay", str(tmp_path / "nope.json")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "nope.json" in result.stderr
