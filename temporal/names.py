"""Task-queue names and custom search attributes, in one place."""

from __future__ import annotations

import re
from enum import StrEnum

from temporalio.common import SearchAttributeKey


class TaskQueue(StrEnum):
    """The task queues: the workflow worker's, then one per activity worker."""

    BOOKING = "booking"
    RESERVATIONS = "reservations"
    PAYMENTS = "payments"
    DOCUMENTS = "documents"
    NOTIFICATIONS = "notifications"


# Custom search attributes operators filter on in the Temporal UI. Never personal data:
# they are stored and indexed in clear (a payload codec, were one added, would not
# encrypt them). UserId is an opaque id.
BOOKING_STATUS = SearchAttributeKey.for_keyword("BookingStatus")
HOTEL_ID = SearchAttributeKey.for_keyword("HotelId")
CHECK_IN = SearchAttributeKey.for_datetime("CheckIn")
USER_ID = SearchAttributeKey.for_keyword("UserId")
SEARCH_ATTRIBUTE_KEYS = (BOOKING_STATUS, HOTEL_ID, CHECK_IN, USER_ID)


def search_attribute_flags() -> list[str]:
    """`--search-attribute Name=Type` flags registering ours on `temporal server start-dev`."""
    flags = []
    for key in SEARCH_ATTRIBUTE_KEYS:
        # INDEXED_VALUE_TYPE_KEYWORD -> Keyword, as the CLI spells it.
        kind = key.indexed_value_type.name.removeprefix("INDEXED_VALUE_TYPE_").title()
        flags += ["--search-attribute", f"{key.name}={kind}"]
    return flags


TRACE_HEADER = "_tracer-data"
"""The Temporal header in which temporalio's TracingInterceptor carries the W3C trace
context (`{"traceparent": ...}`) from the starter to the workflow and its activities."""

BOOKING_WORKFLOW_PREFIX = "booking-"


def booking_workflow_id(booking_id: str) -> str:
    """The workflow id of a booking."""
    return f"{BOOKING_WORKFLOW_PREFIX}{booking_id}"


def workflow_id_given(text: str) -> str:
    """The workflow id a person means: a booking id as the website shows it, or the
    workflow id itself (`booking-<id>`), or any other workflow's id."""
    text = text.strip()
    if text.startswith(BOOKING_WORKFLOW_PREFIX) or not re.fullmatch(r"[0-9a-f]{32}", text):
        return text
    return booking_workflow_id(text)
