"""Task-queue names and custom search attributes, in one place."""

from __future__ import annotations

from enum import StrEnum


class TaskQueue(StrEnum):
    """The task queues: the workflow worker's, then one per activity worker."""

    BOOKING = "booking"
    RESERVATIONS = "reservations"
    PAYMENTS = "payments"
    DOCUMENTS = "documents"
    NOTIFICATIONS = "notifications"


ACTIVITY_TASK_QUEUES = (
    TaskQueue.RESERVATIONS,
    TaskQueue.PAYMENTS,
    TaskQueue.DOCUMENTS,
    TaskQueue.NOTIFICATIONS,
)

# Custom search attributes operators filter on in the Temporal UI: name -> Temporal type.
# Never personal data: search attributes are not encrypted by a payload codec.
SEARCH_ATTRIBUTES: dict[str, str] = {
    "BookingStatus": "Keyword",
    "HotelId": "Keyword",
    "CheckIn": "Datetime",
    "UserId": "Keyword",
}


def booking_workflow_id(booking_id: str) -> str:
    """The workflow id of a booking."""
    return f"booking-{booking_id}"
