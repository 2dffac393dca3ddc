"""Task-queue names, workflow ids, the custom search attributes' names and types and where
the payload codec is served, as plain data: what every process may read without loading
the Temporal SDK.

The services, the website and the launcher only name queues and workflows; loading the
SDK (its protobuf modules and its native core) costs a process about 30 MB it would never
use. The SDK's typed keys for these attributes are built in `temporal.names`.
"""

from __future__ import annotations

import re
from enum import StrEnum


class TaskQueue(StrEnum):
    """The task queues: the workflow worker's, then one per activity worker."""

    BOOKING = "booking"
    RESERVATIONS = "reservations"
    PAYMENTS = "payments"
    DOCUMENTS = "documents"
    NOTIFICATIONS = "notifications"


# Custom search attributes operators filter on in the Temporal UI, name -> type as the
# Temporal CLI spells it. Never personal data: they are stored and indexed in clear (a
# payload codec, were one added, would not encrypt them). UserId is an opaque id.
BOOKING_STATUS_ATTRIBUTE = "BookingStatus"
SEARCH_ATTRIBUTES: dict[str, str] = {
    BOOKING_STATUS_ATTRIBUTE: "Keyword",
    "HotelId": "Keyword",
    "CheckIn": "Datetime",
    "UserId": "Keyword",
}


def search_attribute_flags() -> list[str]:
    """`--search-attribute Name=Type` flags registering ours on `temporal server start-dev`."""
    flags = []
    for name, kind in SEARCH_ATTRIBUTES.items():
        flags += ["--search-attribute", f"{name}={kind}"]
    return flags


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


CODEC_COMPONENT = "codec"
"""The component serving the codec to the Temporal UI (temporal/codec_server.py)."""
CODEC_PATH = "/codec"
"""Where it serves it: the UI posts to `<url>/codec/decode` and `/codec/encode`."""
