"""How `staysaga up` supervises a child: when to restart one that exited, when one is
degraded, and when one that stopped answering its liveness probe is killed.

Plain policy, no processes: `staysaga.stack` applies it, and the tests check it alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from services.common.settings import Settings

_MAX_DOUBLINGS = 60


@dataclass(frozen=True)
class RestartPolicy:
    """How long to wait before restarting a child that exited, and when it is degraded."""

    first_delay: float = 0.5
    max_delay: float = 30.0
    calm_after: float = 60.0
    """A child that ran this many seconds before exiting starts a new streak of exits."""
    degraded_after: int = 3
    """From this many exits in a row, the child is reported degraded."""

    @classmethod
    def from_settings(cls, settings: Settings) -> RestartPolicy:
        """The policy the settings ask for."""
        return cls(max_delay=settings.common.restart_max_delay_seconds)

    def delay(self, streak: int) -> float:
        """The wait before restarting a child that exited `streak` times in a row."""
        doublings = min(max(streak - 1, 0), _MAX_DOUBLINGS)
        return float(min(self.first_delay * 2**doublings, self.max_delay))


@dataclass(frozen=True)
class Restart:
    """The launcher's answer to one exit: wait `delay` seconds, then start the child again."""

    delay: float
    streak: int
    """Exits in a row, this one included."""
    span: float
    """Seconds from the first exit of the streak to this one."""
    degraded: bool


@dataclass
class ExitHistory:
    """A child's unbroken streak of exits, which sets how long it waits to restart."""

    policy: RestartPolicy = field(default_factory=RestartPolicy)
    streak: int = 0
    since: float = 0.0

    def record(self, now: float, ran_for: float) -> Restart:
        """Note an exit after `ran_for` seconds of running; say when to restart."""
        if ran_for >= self.policy.calm_after:
            self.streak = 0
        if self.streak == 0:
            self.since = now
        self.streak += 1
        return Restart(
            delay=self.policy.delay(self.streak),
            streak=self.streak,
            span=now - self.since,
            degraded=self.streak >= self.policy.degraded_after,
        )


@dataclass(frozen=True)
class Liveness:
    """How a running child is probed: every `interval` s, each answer awaited `timeout` s."""

    interval: float = 2.0
    timeout: float = 2.0
    failures: int = 3
    """This many failed probes in a row and the child is restarted."""

    @classmethod
    def from_settings(cls, settings: Settings) -> Liveness:
        """The probing the settings ask for."""
        return cls(
            interval=settings.common.probe_interval_seconds,
            timeout=settings.common.probe_timeout_seconds,
            failures=settings.common.probe_failures,
        )


@dataclass
class Misses:
    """Failed liveness probes in a row of one child."""

    allowed: int
    count: int = 0

    def record(self, answered: bool) -> bool:
        """Count one probe; True once `allowed` probes in a row have failed."""
        self.count = 0 if answered else self.count + 1
        return self.count >= self.allowed
