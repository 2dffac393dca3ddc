"""A Reservations app on a fresh database (SQLite, and PostgreSQL when configured)."""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from services.reservations.app import create_app
from services.reservations.tables import room_types
from tests.support.harness import running_app, settings_for
from tests.support.tokens import TestIssuer, bearer

COMPONENT = "reservations"
# (id, hotel_id, capacity, total_rooms, nightly_rate)
ROOM_TYPES = (
    (11, 1, 2, 5, 10_000),
    (12, 1, 4, 2, 20_000),
    (21, 2, 2, 3, 8_000),
)


@dataclass
class Reservations:
    """A running Reservations app, its client and a token issuer it trusts."""

    app: Starlette
    client: httpx.AsyncClient
    issuer: TestIssuer

    def service(self, scopes: str = "reservations:read reservations:write") -> dict[str, str]:
        """Headers of a service (the saga's worker) calling."""
        return bearer(self.issuer.service_token("worker-reservations", scopes, COMPONENT))

    def user(self, user_id: str, scopes: str = "reservations:read") -> dict[str, str]:
        """Headers of a traveller calling."""
        return bearer(self.issuer.user_token(user_id, scopes, COMPONENT))

    def admin(self) -> dict[str, str]:
        """Headers of an operator changing inventory."""
        return bearer(self.issuer.service_token("ops", "reservations:admin", COMPONENT))


def stay(offset: int = 10, nights: int = 2) -> dict[str, str]:
    """check_in/check_out `offset` days from today, `nights` long."""
    check_in = dt.date.today() + dt.timedelta(days=offset)
    return {
        "check_in": check_in.isoformat(),
        "check_out": (check_in + dt.timedelta(days=nights)).isoformat(),
    }


def hold_body(booking_id: str, **changes: object) -> dict[str, object]:
    """A valid POST /holds body for room type 11 of hotel 1."""
    return {
        "booking_id": booking_id,
        "user_id": "user-1",
        "hotel_id": 1,
        "room_type_id": 11,
        "guests": 2,
        **stay(),
        **changes,
    }


@contextlib.asynccontextmanager
async def start(
    database_url: str, var_dir, ttl: int = 900, max_unpaid_holds: int | None = 1000
) -> AsyncIterator[Reservations]:
    """Run an app with the sample inventory; one traveller may keep `max_unpaid_holds`
    (many, so that tests of inventory need not spread their holds over travellers; None:
    the product's default)."""
    env = {"RESERVATIONS_DATABASE_URL": database_url, "RESERVATIONS_HOLD_TTL_SECONDS": str(ttl)}
    if max_unpaid_holds is not None:
        env["RESERVATIONS_MAX_UNPAID_HOLDS"] = str(max_unpaid_holds)
    settings = settings_for(var_dir, env)
    app = create_app(settings)
    issuer = TestIssuer()
    issuer.install(app)
    async with running_app(app) as client:
        async with app.state.engine.begin() as conn:
            await conn.execute(
                room_types.insert(),
                [
                    dict(
                        zip(
                            ("id", "hotel_id", "capacity", "total_rooms", "nightly_rate"),
                            r,
                            strict=True,
                        )
                    )
                    | {"currency": "EUR"}
                    for r in ROOM_TYPES
                ],
            )
        yield Reservations(app, client, issuer)


@pytest.fixture
async def reservations(database_url, tmp_path) -> AsyncIterator[Reservations]:
    """A Reservations app with three room types in two hotels."""
    async with start(database_url, tmp_path) as running:
        yield running


async def rooms_left(r: Any, room_type_id: int = 11, **dates: str) -> int:
    """Rooms of a room type of hotel 1 left for a stay (the default one unless given)."""
    params = {"hotel_id": 1, "guests": 1, **(dates or stay())}
    body = (await r.client.get("/availability", params=params, headers=r.service())).json()
    return {t["room_type_id"]: t["rooms_left"] for t in body["room_types"]}[room_type_id]
