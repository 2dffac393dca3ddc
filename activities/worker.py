"""Activity workers: one process per task queue, each calling its service's API."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from activities.catalogue import CatalogueActivities
from activities.documents import DocumentActivities
from activities.notifications import NotificationActivities
from activities.payments import PaymentActivities
from activities.reconcile import PaymentReconcileActivities, ReservationReconcileActivities
from activities.reservations import ReservationActivities
from services.common.http import ServiceConnections
from services.common.settings import Settings
from temporal.connect import connect
from temporal.names import TaskQueue
from temporal.worker import run_until_signalled

# task queue -> the activities built on its connections (the registry, `components`, says
# which service each queue's worker calls and when `up` starts it).
QUEUES: dict[TaskQueue, Callable[[ServiceConnections], list[Callable[..., Any]]]] = {
    TaskQueue.RESERVATIONS: lambda c: [
        *ReservationActivities(c).all(),
        *ReservationReconcileActivities(c).all(),
        # The saga schedules describe_hotel on this queue: its histories keep it there.
        *CatalogueActivities(c).all(),
    ],
    TaskQueue.PAYMENTS: lambda c: [
        *PaymentActivities(c).all(),
        *PaymentReconcileActivities(c).all(),
    ],
    TaskQueue.DOCUMENTS: lambda c: DocumentActivities(c).all(),
    TaskQueue.NOTIFICATIONS: lambda c: NotificationActivities(c).all(),
}


async def main(settings: Settings, queue: TaskQueue) -> None:
    """Run the activity worker of one task queue until signalled."""
    connections = ServiceConnections(settings)
    try:
        client = await connect(settings)
        build = QUEUES[queue]
        await run_until_signalled(client, queue, activities=build(connections))
    finally:
        await connections.aclose()
