"""The reconciler's settings (the booking worker keeps its Temporal Schedule)."""

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
