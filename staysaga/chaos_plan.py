"""What `staysaga chaos` is asked for and what it reports: its arguments, its plan, its
bookings, its figures."""

from __future__ import annotations

import argparse
import random
from dataclasses import dataclass, field
from typing import Any

from temporalio.client import WorkflowHandle

from staysaga.driver import Room


class BadArguments(ValueError):
    """The command line asks for a drill that cannot run; the message says why."""


@dataclass(frozen=True)
class Plan:
    """How big a drill is and how hard it hits."""

    bookings: int
    seed: int
    quick: bool
    budget: int

    @property
    def spread(self) -> float:
        """Seconds over which the bookings start."""
        return 20.0 if self.quick else max(60.0, self.bookings * 2.5)


@dataclass
class Booking:
    """One traveller's booking in the drill."""

    booking_id: str
    user_id: str = ""
    email: str = ""
    room: Room | None = None
    handle: WorkflowHandle[Any, Any] | None = None
    trouble: str | None = None


@dataclass
class Report:
    """The drill's figures."""

    bookings: int = 0
    confirmed: int = 0
    failed_cleanly: int = 0
    inconsistent: int = 0
    stuck: int = 0
    recovery_seconds: float | None = None
    problems: list[str] = field(default_factory=list)
    faults: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Whether every booking ended as it must."""
        return not self.inconsistent and not self.stuck and not self.problems

    def table(self) -> str:
        """The figures as a small table."""
        recovery = "-" if self.recovery_seconds is None else f"{self.recovery_seconds:.1f} s"
        heads = ("bookings", "confirmed", "failed cleanly", "inconsistent", "stuck", "recovery")
        values = (
            str(self.bookings),
            str(self.confirmed),
            str(self.failed_cleanly),
            str(self.inconsistent),
            str(self.stuck),
            recovery,
        )
        widths = [max(len(h), len(v)) for h, v in zip(heads, values, strict=True)]
        return "\n".join(
            "  ".join(text.rjust(width) for text, width in zip(row, widths, strict=True))
            for row in (heads, values)
        )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `staysaga chaos`."""
    parser.add_argument(
        "--bookings", type=int, default=None, help="how many bookings race (default 60)"
    )
    parser.add_argument("--seed", type=int, default=None, help="repeat a drill's choices")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a short drill (12 bookings unless --bookings): one kill, one freeze, bank faults",
    )
    parser.add_argument(
        "--step-budget",
        type=int,
        default=10,
        help="seconds each booking step before confirmation may take (default %(default)s)",
    )


def plan_from(args: argparse.Namespace) -> Plan:
    """The drill the arguments ask for, or BadArguments."""
    bookings = args.bookings if args.bookings is not None else (12 if args.quick else 60)
    if bookings < 1:
        raise BadArguments("--bookings must be at least 1")
    if bookings > 200:
        raise BadArguments("--bookings may be at most 200")
    if not 5 <= args.step_budget <= 120:
        raise BadArguments("--step-budget must be between 5 and 120 seconds")
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(10**6)
    return Plan(bookings=bookings, seed=seed, quick=args.quick, budget=args.step_budget)
