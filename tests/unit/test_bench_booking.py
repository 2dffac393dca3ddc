"""The booking benchmark's verdicts: throughput against the baseline's, and the time to
the e-mailed receipt against the baseline's time for the same seven steps."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime

from staysaga.bench import add_arguments
from staysaga.bench_booking import FOLLOW_SECONDS
from staysaga.bench_report import Series, cpu_budget, report
from staysaga.driver import step_durations
from workflows.models import Step


def _series(rate: float, latencies: dict[str, list[float]]) -> Series:
    count = 10
    return Series("x", wall=count / rate, count=count, latencies=latencies)


def test_the_report_judges_throughput_and_the_time_to_the_emailed_receipt():
    baseline = _series(10.0, {"done": [1.0, 1.0, 1.0]})
    fast = _series(8.5, {"confirmed": [0.5] * 3, "emailed": [0.9, 0.9, 0.9]})
    slow = _series(7.0, {"confirmed": [0.5] * 3, "emailed": [1.3, 1.3, 1.3]})

    lines = report(baseline, fast, 10)
    assert (
        "booking/baseline throughput: 0.85 at concurrency 10 (meets the target of 0.8)"
        in (lines[-2])
    )
    assert lines[-1] == "time to EMAILED p50 / baseline p50: 0.90 (meets the target of at most 1.0)"

    lines = report(baseline, slow, 20)
    assert "0.70 at concurrency 20 (misses the target of 0.8)" in lines[-2]
    assert lines[-1].startswith("time to EMAILED p50 / baseline p50: 1.30 (misses the target")


def test_a_confirmed_booking_is_followed_at_the_book_buttons_pace_by_default():
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    assert parser.parse_args(["booking"]).follow_seconds == FOLLOW_SECONDS == 0.1
    assert parser.parse_args(["booking", "--follow-seconds", "0.5"]).follow_seconds == 0.5


def test_the_report_says_what_the_cpu_allows_on_the_machines_cores():
    # Ten baseline runs in one second at 200 ms of CPU each; eight bookings and two
    # failures in two seconds at 400 ms each.
    baseline = Series("x", wall=1.0, count=10, latencies={}, cpu={"temporal": 1.5, "bench": 0.5})
    bookings = Series(
        "y",
        wall=2.0,
        count=8,
        failures=2,
        latencies={},
        cpu={
            "temporal": 2.0,
            "payments": 0.7,
            "bank+mailsink": 0.8,
            "worker-booking+codec": 0.5,
        },
    )
    assert cpu_budget(baseline, bookings, 2) == [
        "CPU per run, every process: baseline 200 ms, booking 400 ms "
        "(the services' own work 150 ms)",
        "  cores kept busy: baseline 2.00, booking 1.60 of 2; 0.8 x the baseline (8.00/s) "
        "needs a booking in at most 250 ms of CPU",
    ]
    # Without CPU figures (a stack this process cannot see), nothing is claimed.
    assert cpu_budget(Series("x", 1.0, 10, {}), bookings, 2) == []


def test_a_bookings_steps_are_timed_each_from_the_one_before():
    started = datetime(2026, 12, 1, 12, 0, tzinfo=UTC).timestamp()
    at = {
        Step.HELD: 0.3,
        Step.PAID: 0.8,
        Step.CONFIRMED: 1.0,
        Step.CAPTURED: 1.1,
        Step.RECEIPT: 1.4,
        Step.EMAILED: 1.5,
    }
    times = {step: datetime.fromtimestamp(started + s, UTC) for step, s in at.items()}
    durations = step_durations(started, times)
    assert list(durations) == ["held", "paid", "confirmed", "receipt", "emailed"]
    assert [round(v, 3) for v in durations.values()] == [0.3, 0.5, 0.2, 0.4, 0.1]
    # A booking that stopped on the way has the steps it took.
    assert list(step_durations(started, {Step.HELD: times[Step.HELD]})) == ["held"]


def test_the_report_says_which_step_of_the_way_to_the_receipt_takes_the_time():
    baseline = _series(10.0, {"done": [1.4, 1.4, 1.4]})
    bookings = _series(8.0, {"confirmed": [1.0], "emailed": [2.0]})
    bookings.steps = {"held": [0.3, 0.3, 0.5], "paid": [0.6], "emailed": [0.2, 0.4]}
    lines = report(baseline, bookings, 10)
    assert "time to EMAILED by step, p50 ms: held 300, paid 600, emailed 300" in lines
    assert "  the baseline's 7 activities: 200 ms each at p50" in lines
