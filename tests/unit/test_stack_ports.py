"""The ports a test or benchmark stack listens on: each its own, and stacks started side
by side (parallel test workers) never pick the same one."""

from __future__ import annotations

import itertools
import os

import pytest

from staysaga import stackprocess
from staysaga.children import QUIET_PORTS_ENV, StackError, quiet_port, quiet_ports
from staysaga.stackprocess import StackProcess
from tests import conftest


def test_a_stack_never_gets_one_port_twice_though_two_picks_land_on_it(monkeypatch):
    # Every port comes up twice in a row, as two picks of the quiet range may.
    picks = iter(port for port in range(20001, 20100) for _ in range(2))
    monkeypatch.setattr(stackprocess, "_stack_port", lambda: next(picks))
    numbers = [int(value.rpartition(":")[2]) for value in StackProcess._ports().values()]
    assert len(numbers) == len(set(numbers))


def test_the_quiet_range_may_be_narrowed_to_a_part_of_it(monkeypatch):
    monkeypatch.setenv(QUIET_PORTS_ENV, "21000-21009")
    assert quiet_ports() == range(21000, 21010)
    assert all(21000 <= quiet_port() <= 21009 for _ in range(20))


def test_a_malformed_quiet_range_is_refused_by_name(monkeypatch):
    monkeypatch.setenv(QUIET_PORTS_ENV, "lots")
    with pytest.raises(StackError, match=QUIET_PORTS_ENV):
        quiet_ports()


@pytest.mark.parametrize("count", [2, 3, 4])
def test_each_parallel_worker_picks_from_a_part_of_its_own(monkeypatch, count):
    parts = []
    for index in range(count):
        monkeypatch.delenv(QUIET_PORTS_ENV, raising=False)
        monkeypatch.setenv("PYTEST_XDIST_WORKER", f"gw{index}")
        monkeypatch.setenv("PYTEST_XDIST_WORKER_COUNT", str(count))
        conftest.pytest_configure(None)  # type: ignore[arg-type]
        first, _, last = os.environ[QUIET_PORTS_ENV].partition("-")
        parts.append(range(int(first), int(last) + 1))
    for one, other in itertools.combinations(parts, 2):
        assert not set(one) & set(other)
    assert all(len(part) >= 1000 for part in parts)
