"""A serving process's garbage-collector settings."""

import subprocess
import sys

from services.common.app import GC_YOUNG_THRESHOLD

PROBE = """
import gc
from services.common.app import settle_for_serving
import services.search.app
before = len(gc.get_objects())
settle_for_serving()
print(before, len(gc.get_objects()), gc.get_freeze_count(), gc.get_threshold()[0])
"""


def test_a_server_hides_its_loaded_code_from_the_collector_and_collects_young_less_often():
    done = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, check=True, timeout=60
    )
    before, after, frozen, young = (int(x) for x in done.stdout.split())
    assert before > 50_000  # the modules and their classes, functions and dicts
    assert after < before / 20 and frozen > before * 0.9
    assert young == GC_YOUNG_THRESHOLD > 700  # CPython's default
