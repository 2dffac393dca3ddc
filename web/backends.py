"""The services the website calls, each through its typed client.

Search is public; Reservations and Users get the website's service token (client
credentials); the PDF service gets the traveller's own token; the bank gets its
publishable key, and sees the card, which nothing else here keeps.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import httpx

from services.bank import api as bank_api
from services.bank.client import BankClient
from services.bank.settings import BankSettings
from services.common.http import ServiceConnections, ServiceError, TransportError
from services.common.settings import Settings
from services.pdf.client import DocumentFile, PdfClient
from services.reservations import api as reservations_api
from services.reservations.client import ReservationsClient
from services.search import api as search_api
from services.search.client import SearchClient
from services.users import api as users_api
from services.users.client import UsersClient

log = logging.getLogger("staysaga.web.backends")

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
CITY_SUGGESTIONS = 8


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


@contextmanager
def _answers(service: str) -> Iterator[None]:
    """A service's refusal, or its silence, as the BackendError a page handles."""
    try:
        yield
    except ServiceError as exc:
        raise BackendError(f"{service} refused", exc.status, exc.problem) from exc
    except (TransportError, RuntimeError, ValueError) as exc:
        # ValueError: an answer that is not the route's response model.
        raise BackendError(f"{service} did not answer ({exc.__class__.__name__})") from exc


@dataclass
class SearchResult:
    """A page of hotels, and which of our filters Search did not apply."""

    page: search_api.HotelPage
    ignored: list[str] = field(default_factory=list)


@dataclass
class Backends:
    """Every outbound call the website makes."""

    settings: Settings
    http: httpx.AsyncClient
    services: ServiceConnections
    reservations: ReservationsClient = field(init=False)
    search: SearchClient = field(init=False)
    users: UsersClient = field(init=False)
    pdf: PdfClient = field(init=False)
    bank: BankClient = field(init=False)

    def __post_init__(self) -> None:
        self.reservations = ReservationsClient(self.services["reservations"])
        self.search = SearchClient(self.services["search"])
        self.users = UsersClient(self.services["users"])
        self.pdf = PdfClient(self.services["pdf"])
        self.bank = BankClient(
            self.settings.url("bank"),
            self.settings.of(BankSettings).publishable_key or "",
            self.services.transport,
        )

    @classmethod
    def create(cls, settings: Settings) -> Backends:
        """Clients for the real services."""
        http = httpx.AsyncClient(timeout=settings.common.http_client_timeout)
        return cls(settings, http, ServiceConnections(settings, http=http))

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self.http.aclose()

    async def cities(self, prefix: str) -> search_api.CityList:
        """Autocomplete suggestions, or the nearest names when none starts so."""
        # Unvalidated here, as every query below: the service judges it, and its refusal
        # is a BackendError.
        query = search_api.CityQuery.model_construct(prefix=prefix, limit=CITY_SUGGESTIONS)
        with _answers("Search"):
            return await self.search.cities(query)

    async def hotels(self, query: search_api.HotelQuery) -> SearchResult:
        """A page of a city's hotels; filters Search refuses are dropped and reported."""
        ignored: list[str] = []
        for _ in range(len(OPTIONAL_SEARCH_PARAMS) + 1):
            try:
                with _answers("Search"):
                    return SearchResult(await self.search.hotels(query), ignored)
            except BackendError as error:
                given = [f for f in OPTIONAL_SEARCH_PARAMS if getattr(query, f, None) is not None]
                refused = [f for f in error.fields if f in given]
                if error.status not in (400, 422) or not refused:
                    raise
                query = query.model_copy(update=dict.fromkeys(refused))
                ignored.extend(refused)
        raise BackendError("Search refused every filter")

    async def hotel(self, hotel_id: int) -> search_api.Hotel | None:
        """One hotel with its room types, or None if Search does not know it."""
        try:
            with _answers("Search"):
                return await self.search.hotel(hotel_id)
        except BackendError as error:
            if error.status in (400, 404):
                return None
            raise

    async def availability(
        self, hotel_id: int, check_in: date, check_out: date, guests: int
    ) -> dict[int, reservations_api.RoomTypeAvailability]:
        """Room type id -> its availability for the stay (from Reservations)."""
        found = await self.stay_availability(hotel_id, check_in, check_out, guests)
        return {room.room_type_id: room for room in found.room_types}

    async def stay_availability(
        self, hotel_id: int, check_in: date, check_out: date, guests: int
    ) -> reservations_api.StayAvailability:
        """A hotel's availability for the stay and the terms it would be booked under."""
        query = reservations_api.AvailabilityQuery.model_construct(
            hotel_id=hotel_id, check_in=check_in, check_out=check_out, guests=guests
        )
        try:
            found = await self.reservations.availability(query)
        except ServiceError as exc:
            raise BackendError("Reservations refused", exc.status, exc.problem) from exc
        except (TransportError, RuntimeError, ValueError) as exc:
            raise BackendError(f"Reservations did not answer ({exc.__class__.__name__})") from exc
        return found

    async def register(
        self, email: str, name: str, password: str, signin_challenge: str
    ) -> users_api.Registered:
        """Create a traveller's account at Users, with the ticket that signs it in for the
        sign-in whose PKCE challenge is `signin_challenge`."""
        registration = users_api.Registration.model_construct(
            email=email, name=name, password=password, signin_challenge=signin_challenge
        )
        with _answers("Users"):
            return await self.users.register(registration)

    async def account(self, user_id: str) -> users_api.User:
        """A traveller's account as Users keeps it (whether its address is verified)."""
        with _answers("Users"):
            return await self.users.user(user_id)

    async def resend_verification(self, user_id: str) -> users_api.Accepted:
        """Have Users e-mail the account's verification link again."""
        with _answers("Users"):
            return await self.users.resend_verification(user_id)

    async def verify_email(self, token: str) -> users_api.User:
        """Mark the address of the e-mailed link verified."""
        with _answers("Users"):
            return await self.users.verify_email(users_api.LinkToken.model_construct(token=token))

    async def request_password_reset(self, email: str) -> None:
        """Have Users e-mail a reset link (it never says whether the account exists)."""
        request = users_api.PasswordResetRequest.model_construct(email=email)
        with _answers("Users"):
            await self.users.request_password_reset(request)

    async def reset_password(self, token: str, password: str) -> None:
        """Set a new password with the token of the e-mailed link."""
        reset = users_api.PasswordReset.model_construct(token=token, password=password)
        with _answers("Users"):
            await self.users.reset_password(reset)

    async def tokenize_card(self, card: dict[str, Any], payer: str) -> bank_api.CardToken:
        """Trade card details for a bank token good only for the payer's own booking; the
        card goes nowhere else."""
        request = bank_api.TokenRequest.model_construct(**card, customer=payer)
        with _answers("The bank"):
            return await self.bank.tokenize(request)

    async def document(self, document_id: str, access_token: str) -> DocumentFile:
        """A rendered PDF, fetched with the traveller's own token."""
        with _answers("The PDF service"):
            return await self.pdf.download(document_id, access_token)
