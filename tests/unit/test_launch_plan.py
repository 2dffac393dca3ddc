"""What `staysaga up` starts, in which order."""

from staysaga.stack import Stack
from tests.support.harness import settings_for


def test_auth_starts_right_after_temporal(tmp_path):
    names = [child.name for child in Stack(settings_for(tmp_path)).plan()]
    assert names[:2] == ["temporal", "auth"]


def test_every_process_has_a_readiness_probe_and_workers_a_liveness_probe(tmp_path):
    children = Stack(settings_for(tmp_path)).plan()
    assert all(child.probe is not None for child in children)
    workers = [child for child in children if child.name.startswith("worker-")]
    assert workers and all(child.liveness is not None for child in workers)
