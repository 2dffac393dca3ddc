"""Task-queue names and custom search attributes, in one place: the plain names
(`temporal.queues`, free of the SDK) and the SDK's typed search-attribute keys."""

from __future__ import annotations

from temporalio.common import SearchAttributeKey

from temporal.queues import BOOKING_STATUS_ATTRIBUTE
from temporal.queues import BOOKING_WORKFLOW_PREFIX as BOOKING_WORKFLOW_PREFIX
from temporal.queues import TaskQueue as TaskQueue
from temporal.queues import booking_workflow_id as booking_workflow_id
from temporal.queues import search_attribute_flags as search_attribute_flags
from temporal.queues import workflow_id_given as workflow_id_given

BOOKING_STATUS = SearchAttributeKey.for_keyword(BOOKING_STATUS_ATTRIBUTE)
HOTEL_ID = SearchAttributeKey.for_keyword("HotelId")
CHECK_IN = SearchAttributeKey.for_datetime("CheckIn")
USER_ID = SearchAttributeKey.for_keyword("UserId")
SEARCH_ATTRIBUTE_KEYS = (BOOKING_STATUS, HOTEL_ID, CHECK_IN, USER_ID)

TRACE_HEADER = "_tracer-data"
"""The Temporal header in which temporalio's TracingInterceptor carries the W3C trace
context (`{"traceparent": ...}`) from the starter to the workflow and its activities."""
