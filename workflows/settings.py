"""The workflow worker's settings: its cache of workflows, and the reconciler's (the
booking worker keeps its Temporal Schedule)."""

from __future__ import annotations

from dataclasses import dataclass

from services.common.parsers import positive_int
from services.common.settings import SettingsGroup, variable


@dataclass(frozen=True, kw_only=True)
class ReconcileSettings(SettingsGroup):
    """How often the reconciler runs, and how old what it checks must be."""

    every_seconds: int = variable(
        "RECONCILE_EVERY_SECONDS",
        "300",
        "how often the reconciler's Temporal Schedule looks for what failed bookings left "
        "behind (set when the booking worker starts)",
        positive_int,
    )
    grace_seconds: int = variable(
        "RECONCILE_GRACE_SECONDS",
        "600",
        "how old a suspect payment, reservation or lapsed hold must be before the "
        "reconciler checks its booking",
        positive_int,
    )


@dataclass(frozen=True, kw_only=True)
class WorkflowWorkerSettings(SettingsGroup):
    """How many workflows the booking worker keeps in memory."""

    cached_workflows: int = variable(
        "WORKER_BOOKING_CACHED_WORKFLOWS",
        "100",
        "workflows the booking worker keeps in memory between their tasks, the least "
        "recently used evicted first; an evicted booking (one waiting for its stay, say) is "
        "replayed from its history at its next task. Each costs about 0.4 MB: the SDK's "
        "default of 1,000 let the worker grow by that much per booking",
        positive_int,
    )
