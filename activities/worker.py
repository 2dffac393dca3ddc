"""Activity workers: one process per task queue, each calling its service's API."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from temporalio import activity

from activities.catalogue import CatalogueActivities
from activities.documents import DocumentActivities
from activities.models import NOOP, Done
from activities.notifications import NotificationActivities
from activities.payments import PaymentActivities
from activities.reconcile import PaymentReconcileActivities, ReservationReconcileActivities
from activities.reservations import ReservationActivities
from services.common.http import ServiceClients
from services.common.settings import Settings
from temporal.client import connect
from temporal.names import TaskQueue
from temporal.worker import run_until_signalled

# task queue -> (the service its activities call, the activities built on its clients)
QUEUES: dict[TaskQueue, tuple[str, Callable[[ServiceClients], list[Callable[..., Any]]]]] = {
    TaskQueue.RESERVATIONS: (
        "reservations",
        lambda c: [
            *ReservationActivities(c).all(),
            *ReservationReconcileActivities(c).all(),
            # The saga schedules describe_hotel on this queue: its histories keep it there.
            *CatalogueActivities(c).all(),
        ],
    ),
    TaskQueue.PAYMENTS: (
        "payments",
        lambda c: [*PaymentActivities(c).all(), *PaymentReconcileActivities(c).all()],
    ),
    TaskQueue.DOCUMENTS: ("pdf", lambda c: DocumentActivities(c).all()),
    TaskQueue.NOTIFICATIONS: ("users", lambda c: NotificationActivities(c).all()),
}


@activity.defn(name=NOOP)
async def noop(_: Done) -> Done:
    """Does nothing: what an activity costs the worker and the server alone."""
    return Done()


async def main(settings: Settings, queue: TaskQueue) -> None:
    """Run the activity worker of one task queue until signalled."""
    clients = ServiceClients(settings)
    try:
        client = await connect(settings)
        _, build = QUEUES[queue]
        await run_until_signalled(client, queue, activities=[*build(clients), noop])
    finally:
        await clients.aclose()
