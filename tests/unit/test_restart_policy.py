"""How `staysaga up` decides when to restart a child, when it is degraded, when it is dead."""

import socket

import pytest

from staysaga.children import StackError
from staysaga.stack import Stack
from staysaga.supervision import ExitHistory, Liveness, Misses, RestartPolicy
from tests.support.harness import settings_for


def test_the_wait_doubles_from_half_a_second_up_to_the_cap():
    policy = RestartPolicy(first_delay=0.5, max_delay=30.0)
    assert [policy.delay(n) for n in range(1, 10)] == [0.5, 1, 2, 4, 8, 16, 30, 30, 30]


def test_a_child_that_keeps_exiting_is_degraded_and_never_given_up():
    history = ExitHistory(RestartPolicy(first_delay=0.5, max_delay=30.0, degraded_after=3))
    now = 0.0
    restarts = []
    for _ in range(10_000):
        restarts.append(history.record(now, ran_for=0.1))
        now += restarts[-1].delay + 0.1
    assert [r.degraded for r in restarts[:4]] == [False, False, True, True]
    assert all(r.degraded for r in restarts[2:])
    assert restarts[-1].delay == 30.0
    assert restarts[-1].streak == 10_000
    assert restarts[-1].span == pytest.approx(now - restarts[-1].delay - 0.1)


def test_the_span_of_a_streak_is_the_time_since_its_first_exit():
    history = ExitHistory(RestartPolicy())
    history.record(100.0, ran_for=1.0)
    history.record(101.0, ran_for=0.5)
    third = history.record(103.5, ran_for=0.5)
    assert (third.streak, third.span, third.degraded) == (3, 3.5, True)


def test_a_child_that_ran_calmly_for_a_while_starts_a_new_streak():
    history = ExitHistory(RestartPolicy(first_delay=0.5, calm_after=60.0))
    for second in range(6):
        history.record(float(second), ran_for=0.2)
    after_calm = history.record(100.0, ran_for=60.0)
    assert (after_calm.streak, after_calm.delay, after_calm.degraded) == (1, 0.5, False)
    assert after_calm.span == 0.0


def test_only_failed_probes_in_a_row_restart_a_child():
    misses = Misses(allowed=3)
    assert [misses.record(answered) for answered in (False, False, True, False, False)] == [
        False,
        False,
        False,
        False,
        False,
    ]
    assert misses.record(False) is True


def test_restart_and_probe_timings_come_from_the_settings(tmp_path):
    settings = settings_for(
        tmp_path,
        {
            "STAYSAGA_RESTART_MAX_DELAY_SECONDS": "5",
            "STAYSAGA_PROBE_INTERVAL_SECONDS": "0.5",
            "STAYSAGA_PROBE_TIMEOUT_SECONDS": "1.5",
            "STAYSAGA_PROBE_FAILURES": "4",
        },
    )
    assert RestartPolicy.from_settings(settings).max_delay == 5.0
    assert Liveness.from_settings(settings) == Liveness(interval=0.5, timeout=1.5, failures=4)
    defaults = Liveness.from_settings(settings_for(tmp_path))
    # A frozen process is noticed within about ten seconds.
    assert defaults.interval + defaults.failures * max(defaults.interval, defaults.timeout) <= 10


def test_a_taken_worker_health_port_is_refused_naming_its_variable(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        stack = Stack(settings_for(tmp_path, {"WORKER_PAYMENTS_HEALTH_PORT": str(port)}))
        worker = [child for child in stack.plan() if child.name == "worker-payments"]
        with pytest.raises(StackError, match="WORKER_PAYMENTS_HEALTH_PORT"):
            stack.check_ports(worker)
