"""The services the website calls, each behind one small method.

Search is public; Reservations and Users get the website's service token (client
credentials); the PDF service gets the traveller's own token; the bank gets its
publishable key, and sees the card, which nothing else here keeps.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import httpx

from services.bank.settings import BankSettings
from services.common.http import ServiceClients, ServiceError, TransportError
from services.common.settings import Settings
from services.reservations import api as reservations_api
from services.reservations.client import ReservationsClient

log = logging.getLogger("staysaga.web.backends")

# Users registers travellers (and verifies addresses, resets passwords) only for callers
# with this scope, so sign-up stays behind the website, which rate-limits visitors.
USERS_REGISTER_SCOPE = "users:register"
DOCUMENTS_SCOPE = "documents:read"

# Search parameters the website may pass; Search refusing one must not break the page.
OPTIONAL_SEARCH_PARAMS = (
    "check_in",
    "check_out",
    "guests",
    "stars",
    "min_price",
    "max_price",
    "amenities",
    "sort",
    "q",
)


class BackendError(Exception):
    """A service the page needs did not answer usefully; `problem` is its problem body."""

    def __init__(self, message: str, status: int = 503, problem: dict[str, Any] | None = None):
        super().__init__(message)
        self.status = status
        self.problem = problem or {}

    @property
    def field(self) -> str | None:
        """The input field the service blamed, if any."""
        found = self.problem.get("field")
        if found:
            return str(found)
        errors = self.problem.get("errors") or []
        if errors and isinstance(errors[0], dict):
            return errors[0].get("field")
        return None

    @property
    def fields(self) -> list[str]:
        """Every input field the service blamed."""
        named = [str(e["field"]) for e in self.problem.get("errors") or [] if isinstance(e, dict)]
        return named or ([self.field] if self.field else [])

    @property
    def type(self) -> str:
        """The problem's type slug."""
        return str(self.problem.get("type", "")).rsplit("/", 1)[-1]


def _problem(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


@dataclass
class SearchResult:
    """A page of hotels, and which of our filters Search did not apply."""

    page: dict[str, Any]
    ignored: list[str] = field(default_factory=list)


@dataclass
class Backends:
    """Every outbound call the website makes."""

    settings: Settings
    http: httpx.AsyncClient
    services: ServiceClients
    reservations: ReservationsClient = field(init=False)

    def __post_init__(self) -> None:
        self.reservations = ReservationsClient(self.services["reservations"])

    @classmethod
    def create(cls, settings: Settings) -> Backends:
        """Clients for the real services."""
        http = httpx.AsyncClient(timeout=settings.common.http_client_timeout)
        return cls(settings, http, ServiceClients(settings, http=http))

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self.http.aclose()

    async def _search(self, path: str, params: dict[str, Any]) -> httpx.Response:
        try:
            return await self.http.get(self.settings.url("search") + path, params=params)
        except httpx.HTTPError as exc:
            raise BackendError(f"Search did not answer ({exc.__class__.__name__})") from exc

    async def cities(self, prefix: str) -> list[dict[str, Any]]:
        """Autocomplete suggestions."""
        response = await self._search("/cities", {"prefix": prefix, "limit": 8})
        if response.status_code != 200:
            return []
        items: list[dict[str, Any]] = response.json().get("items", [])
        return items

    async def hotels(self, params: dict[str, Any]) -> SearchResult:
        """A page of a city's hotels; filters Search refuses are dropped and reported."""
        params = {k: v for k, v in params.items() if v not in (None, "", [])}
        ignored: list[str] = []
        for _ in range(len(OPTIONAL_SEARCH_PARAMS) + 1):
            response = await self._search("/hotels", params)
            if response.status_code == 200:
                return SearchResult(response.json(), ignored)
            error = BackendError("Search refused", response.status_code, _problem(response))
            refused = [f for f in error.fields if f in OPTIONAL_SEARCH_PARAMS and f in params]
            if response.status_code in (400, 422) and refused:
                for name in refused:
                    params.pop(name)
                    ignored.append(name)
                continue
            raise error
        raise BackendError("Search refused every filter")

    async def hotel(self, hotel_id: int) -> dict[str, Any] | None:
        """One hotel with its room types, or None if Search does not know it."""
        response = await self._search(f"/hotels/{hotel_id}", {})
        if response.status_code in (400, 404):
            return None
        if response.status_code != 200:
            raise BackendError("Search failed", response.status_code, _problem(response))
        found: dict[str, Any] = response.json()
        return found

    async def availability(
        self, hotel_id: int, check_in: date, check_out: date, guests: int
    ) -> dict[int, reservations_api.RoomTypeAvailability]:
        """Room type id -> its availability for the stay (from Reservations)."""
        # Unvalidated here: Reservations judges the stay, and its refusal is a BackendError.
        query = reservations_api.AvailabilityQuery.model_construct(
            hotel_id=hotel_id, check_in=check_in, check_out=check_out, guests=guests
        )
        try:
            found = await self.reservations.availability(query)
        except ServiceError as exc:
            raise BackendError("Reservations refused", exc.status, exc.problem) from exc
        except (TransportError, RuntimeError, ValueError) as exc:
            raise BackendError(f"Reservations did not answer ({exc.__class__.__name__})") from exc
        return {room.room_type_id: room for room in found.room_types}

    async def register(self, email: str, name: str, password: str) -> dict[str, Any]:
        """Create a traveller's account at Users."""
        return await self.account_action(
            "/users", {"email": email, "name": name, "password": password}
        )

    async def account_action(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """POST an account step to Users with the website's service token: sign-up, and the
        e-mailed-link steps (verify the address, request or confirm a reset)."""
        try:
            response = await self.services["users"].request(
                "POST", path, scopes=USERS_REGISTER_SCOPE, json=body
            )
        except ServiceError as exc:
            raise BackendError("Users refused", exc.status, exc.problem) from exc
        except (TransportError, RuntimeError) as exc:
            raise BackendError(f"Users did not answer ({exc.__class__.__name__})") from exc
        answer: dict[str, Any] = response.json()
        return answer

    async def tokenize_card(self, card: dict[str, Any]) -> dict[str, Any]:
        """Trade card details for a bank token; the card goes nowhere else."""
        key = self.settings.of(BankSettings).publishable_key
        try:
            response = await self.http.post(
                self.settings.url("bank") + "/tokens",
                json=card,
                headers={"Authorization": f"Bearer {key}"},
            )
        except httpx.HTTPError as exc:
            raise BackendError(f"The bank did not answer ({exc.__class__.__name__})") from exc
        if response.status_code not in (200, 201):
            raise BackendError(
                "The bank refused the card", response.status_code, _problem(response)
            )
        token: dict[str, Any] = response.json()
        return token

    async def document(self, document_id: str, access_token: str) -> httpx.Response:
        """A rendered PDF, fetched with the traveller's own token."""
        try:
            response = await self.http.get(
                f"{self.settings.url('pdf')}/documents/{document_id}",
                headers={"Authorization": f"Bearer {access_token}", "Accept": "application/pdf"},
            )
        except httpx.HTTPError as exc:
            raise BackendError(
                f"The PDF service did not answer ({exc.__class__.__name__})"
            ) from exc
        if response.status_code != 200:
            raise BackendError("No such document", response.status_code, _problem(response))
        return response
