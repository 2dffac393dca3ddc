"""Injected faults: extra latency, 503 answers, and movements whose answer is lost."""

from __future__ import annotations

import asyncio
import random

from services.bank.api import BANK_UNAVAILABLE, FaultConfig
from services.common.problems import Problem


class Faults:
    """The bank's current fault settings and the dice that decide each call."""

    def __init__(self, config: FaultConfig, rng: random.Random | None = None) -> None:
        self.config = config
        self.rng = rng or random.Random()  # noqa: S311 - fault dice, not cryptography

    def update(self, config: FaultConfig) -> None:
        """Switch to new settings; a seed makes the following dice repeatable."""
        self.config = config
        if config.seed is not None:
            self.rng.seed(config.seed)

    async def before_call(self) -> None:
        """Delay the call, and maybe refuse it with a 503 before anything happens."""
        if self.config.latency_ms:
            await asyncio.sleep(self.config.latency_ms / 1000)
        if self.config.error_rate and self.rng.random() < self.config.error_rate:
            raise Problem(
                503,
                BANK_UNAVAILABLE,
                "The bank is unavailable.",
                "Injected fault: try again later.",
                headers={"Retry-After": "1"},
            )

    def lose_answer(self) -> bool:
        """Whether this movement, now done, should time out instead of answering."""
        return bool(self.config.timeout_rate) and self.rng.random() < self.config.timeout_rate
