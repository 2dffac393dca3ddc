"""Reservations' own settings."""

from __future__ import annotations

from dataclasses import dataclass

from services.common.parsers import positive_int
from services.common.settings import SettingsGroup, variable


@dataclass(frozen=True, kw_only=True)
class ReservationsSettings(SettingsGroup):
    """How long a hold keeps its rooms, and how many a traveller may keep unpaid."""

    hold_ttl_seconds: int = variable(
        "RESERVATIONS_HOLD_TTL_SECONDS",
        "900",
        "seconds a room hold lasts before its rooms return to inventory by themselves",
        positive_int,
    )
    max_unpaid_holds: int = variable(
        "RESERVATIONS_MAX_UNPAID_HOLDS",
        "2",
        "live holds (placed, not yet confirmed by a payment) one traveller may keep at a time",
        positive_int,
    )
