"""How an activity calls a service through the service's client (`run`): service token,
deadline, heartbeats, errors mapped.

A business refusal (4xx) becomes a non-retryable ApplicationError whose type the workflow
understands; anything that may pass (5xx, timeouts, a refused connection, auth trouble)
is raised as-is so that Temporal retries it with backoff.

Each call carries the step's deadline (the earlier of the attempt's and the whole step's
timeout), so a service that gets the request too late, frozen or swamped, refuses it
instead of acting for a workflow that has moved on. While it waits for the answer the
activity heartbeats, so that Temporal learns of a dead worker within the heartbeat
timeout instead of the whole attempt's.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any, TypeVar

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities import models as act
from services.common.deadlines import deadline_var
from services.common.http import ServiceError
from services.payments import api as payments_api
from services.reservations import api as reservations_api

log = logging.getLogger("staysaga.activities")

T = TypeVar("T")

HEARTBEAT_EVERY_SECONDS = 1.0
"""How often an activity waiting for a service tells Temporal it lives (the SDK sends at
most one heartbeat per 80% of the heartbeat timeout)."""

# Problem types of the services -> the workflow's failure kinds and the traveller's text.
_BUSINESS: dict[str, tuple[str, str]] = {
    reservations_api.SOLD_OUT: (act.SOLD_OUT, "That room is no longer available for your dates."),
    reservations_api.EXPIRED_HOLD: (act.HOLD_EXPIRED, "Your hold on the room expired."),
    reservations_api.RELEASED_HOLD: (act.HOLD_EXPIRED, "Your hold on the room was released."),
    # Reservations' own words: they name the limit.
    reservations_api.TOO_MANY_HOLDS: (act.TOO_MANY_HOLDS, ""),
    payments_api.CARD_DECLINED: (act.PAYMENT_DECLINED, "Your card was declined."),
    payments_api.INSUFFICIENT_FUNDS: (act.PAYMENT_DECLINED, "Your card has insufficient funds."),
    payments_api.EXPIRED_CARD: (act.PAYMENT_DECLINED, "Your card has expired."),
    payments_api.CARD_TOKEN_USED: (
        act.PAYMENT_DECLINED,
        "These card details were already used for a payment; please enter your card again.",
    ),
    payments_api.CARD_TOKEN_OF_ANOTHER_PAYER: (
        act.PAYMENT_DECLINED,
        "These card details were entered by another traveller.",
    ),
}


def business_error(error: ServiceError) -> ApplicationError | None:
    """The non-retryable error for a business refusal, or None if retrying may help."""
    if error.retryable or error.status in (401, 403):
        return None
    kind, text = _BUSINESS.get(error.type, (act.BAD_REQUEST, ""))
    detail = text or str(error.problem.get("detail") or error.problem.get("title") or error)
    return ApplicationError(detail, error.problem, type=kind, non_retryable=True)


def step_deadline() -> float | None:
    """When the running activity's caller gives up (seconds since the epoch), or None."""
    if not activity.in_activity():
        return None
    info = activity.info()
    ends = []
    if info.start_to_close_timeout:
        ends.append(info.started_time + info.start_to_close_timeout)
    if info.schedule_to_close_timeout:
        ends.append(info.scheduled_time + info.schedule_to_close_timeout)
    return min(ends).timestamp() if ends else None


async def _heartbeating(request: asyncio.Future[T]) -> T:
    """Await a call, heartbeating while it takes long (inside an activity)."""
    if not activity.in_activity():
        return await request
    while True:
        done, _ = await asyncio.wait({request}, timeout=HEARTBEAT_EVERY_SECONDS)
        if done:
            return request.result()
        activity.heartbeat()


async def run(request: Coroutine[Any, Any, T], component: str) -> T:
    """Await a client's call to `component` for an activity (see the module's doc)."""
    token = deadline_var.set(step_deadline())
    try:
        # The call runs as a task made after the deadline was set: it carries the deadline.
        future = asyncio.ensure_future(request)
        try:
            return await _heartbeating(future)
        finally:
            future.cancel()
    except ServiceError as error:
        refusal = business_error(error)
        if refusal is not None:
            raise refusal from None
        if error.status in (401, 403):
            log.error("%s refused our service token: %s", component, error)
        raise
    finally:
        deadline_var.reset(token)
