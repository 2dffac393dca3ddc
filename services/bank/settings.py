"""The bank's own settings: its merchant keys and the faults it injects."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from services.common.parsers import non_negative_int, rate
from services.common.settings import SettingsGroup, variable


def _secret_key() -> str:
    return "sk_local_" + secrets.token_urlsafe(32)


def _publishable_key() -> str:
    return "pk_local_" + secrets.token_urlsafe(24)


@dataclass(frozen=True, kw_only=True)
class BankSettings(SettingsGroup):
    """The simulated bank's keys and fault injection."""

    secret_key: str | None = variable(
        "BANK_SECRET_KEY",
        None,
        "the simulated bank's secret API key (Payments -> bank); `staysaga up` makes one",
        generate=_secret_key,
    )
    publishable_key: str | None = variable(
        "BANK_PUBLISHABLE_KEY",
        None,
        "the bank's publishable key, good only for POST /tokens; `staysaga up` makes one",
        generate=_publishable_key,
    )
    fault_latency_ms: int = variable(
        "BANK_FAULT_LATENCY_MS", "0", "bank: extra latency on every call", non_negative_int
    )
    fault_error_rate: float = variable(
        "BANK_FAULT_ERROR_RATE", "0", "bank: share of calls answered 503", rate
    )
    fault_timeout_rate: float = variable(
        "BANK_FAULT_TIMEOUT_RATE",
        "0",
        "bank: share of money movements that take effect but whose answer is lost",
        rate,
    )
    fault_hang_ms: int = variable(
        "BANK_FAULT_HANG_MS",
        "15000",
        "bank: how long a lost answer hangs before a 504 (longer than callers wait)",
        non_negative_int,
    )
    slow_card_ms: int = variable(
        "BANK_SLOW_CARD_MS", "3000", "bank: how long the slow test card takes", non_negative_int
    )
