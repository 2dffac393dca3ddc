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


def test_the_temporal_dev_server_and_its_ui_listen_on_loopback_only(tmp_path):
    # Neither has a login: even a stack told to listen everywhere keeps them on this machine.
    settings = settings_for(
        tmp_path,
        {"STAYSAGA_HOST": "0.0.0.0", "TEMPORAL_ADDRESS": "0.0.0.0:7233"},  # noqa: S104
    )
    (temporal,) = [c for c in Stack(settings).plan() if c.name == "temporal"]
    args = list(temporal.argv)
    assert args[args.index("--ip") + 1] == "127.0.0.1"
    assert args[args.index("--ui-ip") + 1] == "127.0.0.1"
    assert args[args.index("--port") + 1] == "7233"
