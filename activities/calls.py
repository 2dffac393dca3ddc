"""How an activity calls a service: service token, idempotency key, errors mapped.

A business refusal (4xx) becomes a non-retryable ApplicationError whose type the workflow
understands; anything that may pass (5xx, timeouts, a refused connection, auth trouble)
is raised as-is so that Temporal retries it with backoff.
"""

from __future__ import annotations

import logging
from typing import Any

from temporalio.exceptions import ApplicationError

from activities import models as act
from services.common.http import Reply, ServiceClient, ServiceError

log = logging.getLogger("staysaga.activities")

# Problem types of the services -> the workflow's failure kinds and the traveller's text.
_BUSINESS: dict[str, tuple[str, str]] = {
    "sold-out": (act.SOLD_OUT, "That room is no longer available for your dates."),
    "hold-expired": (act.HOLD_EXPIRED, "Your hold on the room expired."),
    "hold-released": (act.HOLD_EXPIRED, "Your hold on the room was released."),
    "card-declined": (act.PAYMENT_DECLINED, "Your card was declined."),
    "insufficient-funds": (act.PAYMENT_DECLINED, "Your card has insufficient funds."),
    "expired-card": (act.PAYMENT_DECLINED, "Your card has expired."),
}


def business_error(error: ServiceError) -> ApplicationError | None:
    """The non-retryable error for a business refusal, or None if retrying may help."""
    if error.retryable or error.status in (401, 403):
        return None
    kind, text = _BUSINESS.get(error.type, (act.BAD_REQUEST, ""))
    detail = text or str(error.problem.get("detail") or error.problem.get("title") or error)
    return ApplicationError(detail, error.problem, type=kind, non_retryable=True)


async def call(
    service: ServiceClient,
    method: str,
    path: str,
    *,
    scopes: str | None,
    json: Any = None,
    idempotency_key: str | None = None,
    ok_statuses: tuple[int, ...] = (),
) -> Reply | None:
    """Call a service for an activity; None when the status is one of `ok_statuses`."""
    try:
        return await service.request(
            method, path, scopes=scopes, json=json, idempotency_key=idempotency_key
        )
    except ServiceError as error:
        if error.status in ok_statuses:
            return None
        refusal = business_error(error)
        if refusal is not None:
            raise refusal from None
        if error.status in (401, 403):
            log.error("%s refused our service token: %s", service.component, error)
        raise
