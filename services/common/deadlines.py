"""Deadlines that travel with calls, so that no service works for a caller that gave up.

A caller with a deadline (an activity, whose attempt and whose step both time out) sends
it as `Staysaga-Deadline: <seconds since the epoch>`. A service refuses a request that
arrives past it (504 deadline-exceeded) before doing anything, as happens when a frozen
process resumes with requests buffered in its socket, and passes the deadline on to
the services it calls in turn. It is an absolute time, not a duration: only an absolute
time stays right across a queue, and the clocks of one deployment agree to far better
than the seconds a step lasts.
"""

from __future__ import annotations

import logging
import math
import time
from contextvars import ContextVar

from starlette.types import ASGIApp, Receive, Scope, Send

from services.common.problems import Problem, ValidationProblem

DEADLINE_HEADER = "Staysaga-Deadline"
DEADLINE_EXCEEDED = "deadline-exceeded"

deadline_var: ContextVar[float | None] = ContextVar("staysaga_deadline", default=None)
"""When the current caller gives up, in seconds since the epoch (None: it waits)."""

log = logging.getLogger("staysaga.deadlines")

_HEADER_KEY = DEADLINE_HEADER.lower().encode()


def remaining(deadline: float | None) -> float | None:
    """Seconds left before `deadline` (never negative), or None without one."""
    return None if deadline is None else max(0.0, deadline - time.time())


def header_value(deadline: float) -> str:
    """The header's text for a deadline."""
    return f"{deadline:.3f}"


def parse(raw: str) -> float:
    """A deadline from its header text; 400 naming the header if it is not a time."""
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value <= 0:
        raise ValidationProblem(
            [{"field": DEADLINE_HEADER, "message": "must be seconds since the epoch"}],
            status=400,
        )
    return value


class DeadlineMiddleware:
    """Refuses requests that arrive after their caller's deadline; passes the deadline on."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Check one request's deadline, then serve it with the deadline in context."""
        raw = None
        if scope["type"] == "http":
            raw = next((v for k, v in scope["headers"] if k == _HEADER_KEY), None)
        if raw is None:
            await self.app(scope, receive, send)
            return
        try:
            deadline = parse(raw.decode(errors="replace"))
            late = time.time() - deadline
            if late >= 0:
                log.warning(
                    "%s %s arrived %.1f s after its caller gave up; refused",
                    scope["method"],
                    scope["path"],
                    late,
                )
                raise Problem(
                    504,
                    DEADLINE_EXCEEDED,
                    "The caller's deadline passed before the request was served.",
                    f"{late:.1f} s late.",
                    field=DEADLINE_HEADER,
                )
        except Problem as problem:
            await problem.response(scope["path"])(scope, receive, send)
            return
        token = deadline_var.set(deadline)
        try:
            await self.app(scope, receive, send)
        finally:
            deadline_var.reset(token)
