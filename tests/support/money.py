"""The bank and Payments in process, wired together, for the money tests."""

from __future__ import annotations

import contextlib
import random
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from services.bank.app import create_app as create_bank
from services.payments.app import create_app as create_payments
from tests.conftest import fresh_postgres_database
from tests.support.harness import running_app, settings_for
from tests.support.tokens import TestIssuer, bearer

SECRET_KEY = "sk_test_secret"  # noqa: S105 - a test fixture
PUBLISHABLE_KEY = "pk_test_publishable"
SLOW_CARD_MS = 400

SUCCEEDS = "4242424242424242"
DECLINED = "4000000000000002"
INSUFFICIENT = "4000000000009995"
EXPIRED = "4000000000000069"
SLOW = "4000000000000077"


def money_env(bank_db: str, payments_db: str, **extra: str) -> dict[str, str]:
    """Settings for a bank and Payments that answer fast (lost answers do not hang)."""
    return {
        "BANK_SECRET_KEY": SECRET_KEY,
        "BANK_PUBLISHABLE_KEY": PUBLISHABLE_KEY,
        "BANK_SLOW_CARD_MS": str(SLOW_CARD_MS),
        "BANK_FAULT_HANG_MS": "0",
        "BANK_URL": "http://bank.test",
        "BANK_DATABASE_URL": bank_db,
        "PAYMENTS_DATABASE_URL": payments_db,
        **extra,
    }


def key_headers(key: str = SECRET_KEY, idempotency_key: str | None = None) -> dict[str, str]:
    """Headers of a merchant's call to the bank."""
    headers = {"Authorization": f"Bearer {key}"}
    if idempotency_key is not None:
        headers["Idempotency-Key"] = idempotency_key
    return headers


def card(number: str = SUCCEEDS, **overrides: Any) -> dict[str, Any]:
    """A card as the traveller typed it."""
    return {
        "number": number,
        "exp_month": 12,
        "exp_year": 2099,
        "cvc": "123",
        "holder": "Ada Lovelace",
        **overrides,
    }


async def tokenize(bank: httpx.AsyncClient, number: str = SUCCEEDS) -> str:
    """A token for a test card."""
    response = await bank.post("/tokens", json=card(number), headers=key_headers(PUBLISHABLE_KEY))
    assert response.status_code == 201, response.text
    return response.json()["token"]


@dataclass
class Money:
    """Clients of a running bank and Payments, and the issuer Payments trusts."""

    bank: httpx.AsyncClient
    payments: httpx.AsyncClient
    bank_app: Starlette
    payments_app: Starlette
    issuer: TestIssuer

    def service(self, scopes: str = "payments:charge payments:read") -> dict[str, str]:
        """Headers of a service (the saga's activities) calling Payments."""
        return bearer(self.issuer.service_token("worker-payments", scopes, "payments"))

    def user(self, user_id: str, scopes: str = "payments:charge payments:read") -> dict[str, str]:
        """Headers of a traveller calling Payments."""
        return bearer(self.issuer.user_token(user_id, scopes, "payments"))

    async def set_faults(self, **config: Any) -> None:
        """Switch the bank's injected faults through its admin endpoint."""
        response = await self.bank.put("/admin/faults", json=config, headers=key_headers())
        assert response.status_code == 200, response.text


@contextlib.asynccontextmanager
async def running_money(
    var_dir: Path, env: dict[str, str], rng: random.Random | None = None
) -> AsyncIterator[Money]:
    """Start the bank, and Payments talking to it in process."""
    settings = settings_for(var_dir, env)
    bank_app = create_bank(settings, rng=rng or random.Random(0))
    async with running_app(bank_app) as bank:
        transport = httpx.ASGITransport(app=bank_app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://bank.test") as to_bank:
            payments_app = create_payments(settings, bank_http=to_bank)
            issuer = TestIssuer()
            issuer.install(payments_app)
            async with running_app(payments_app) as payments:
                yield Money(bank, payments, bank_app, payments_app, issuer)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def money(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Money]:
    """A bank and Payments with empty databases, on each backend."""
    async with contextlib.AsyncExitStack() as stack:
        if request.param == "sqlite":
            urls = [f"sqlite+aiosqlite:///{tmp_path}/{name}.db" for name in ("bank", "payments")]
        else:
            urls = [await stack.enter_async_context(fresh_postgres_database()) for _ in "bp"]
        yield await stack.enter_async_context(running_money(tmp_path, money_env(*urls)))
