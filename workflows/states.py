"""A booking's workflow type and states, and the Temporal UI's list of bookings in some of
them: plain names, for what shows bookings without loading the Temporal SDK (the
launcher's links). The saga's contract (`workflows.models`) re-exports them."""

from __future__ import annotations

from enum import StrEnum
from urllib.parse import urlencode

from temporal.queues import BOOKING_STATUS_ATTRIBUTE

WORKFLOW_TYPE = "BookingWorkflow"


class BookingState(StrEnum):
    """Where a booking is in its life. Also the BookingStatus search attribute."""

    STARTED = "STARTED"
    AWAITING_PAYMENT = "AWAITING_PAYMENT"
    PROCESSING_PAYMENT = "PROCESSING_PAYMENT"
    CONFIRMED = "CONFIRMED"
    CANCELLED = "CANCELLED"
    FAILED = "FAILED"
    EXPIRED = "EXPIRED"
    COMPLETED = "COMPLETED"


def bookings_url(ui_url: str, namespace: str, *states: BookingState) -> str:
    """The Temporal UI's list of bookings in these states (every booking if none): a saved
    query, e.g. every failed or expired booking in one click."""
    query = f'WorkflowType="{WORKFLOW_TYPE}"'
    if states:
        listed = ", ".join(f'"{state.value}"' for state in states)
        query += f" AND {BOOKING_STATUS_ATTRIBUTE} IN ({listed})"
    return f"{ui_url}/namespaces/{namespace}/workflows?{urlencode({'query': query})}"
