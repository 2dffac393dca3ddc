"""Drives bookings through a running stack the way the website does, for the booking
benchmark and the end-to-end tests: a traveller account, a room from Search, a card
token from the bank, the workflow started, the payment update, the progress followed."""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import httpx
from temporalio.client import Client, WorkflowHandle
from temporalio.service import RPCError, RPCStatusCode

from components.settings import load_settings
from services.auth.client import AuthClient
from services.bank import api as bank_api
from services.bank.client import BankClient
from services.common.auth import audience
from services.common.http import HttpxTransport, ServiceConnection, ServiceError
from services.common.settings import Settings
from services.search import api as search_api
from services.search.client import SearchClient
from services.users import api as users_api
from services.users.client import UsersClient
from staysaga.secrets import StackSecrets, local_environment
from temporal.connect import connect
from web import bookings
from web.bookings import HOLD_POLL_SECONDS
from workflows.models import (
    QUERY_STATUS,
    UPDATE_SUBMIT_PAYMENT,
    BookingRequest,
    BookingState,
    BookingView,
    PaymentSubmission,
    Step,
)

# Each status poll is a query the Temporal server and the workflow worker must answer, so
# the driver polls as the website does: every HOLD_POLL_SECONDS while "Book" waits for the
# hold, then at the live page's pace (web.app.SSE_POLL_SECONDS). Milestones are timed from
# the steps' times the workflow records, not from when a poll happened to see them.
POLL_SECONDS = 0.5
# What the client reports when its own RPC timeout expired ("Timeout expired").
_CLIENT_TIMEOUT = RPCStatusCode.CANCELLED
# How long the driver takes a token it fetched to stay good (it asks again after that).
TOKEN_SECONDS = 60.0
PASSWORD = "correct horse battery"  # noqa: S105 - every driven traveller's, on a test stack
BIG_CITIES = ("Paris", "London", "Tokyo", "New York City", "Berlin", "Madrid", "Rome", "Seoul")


@dataclass
class Timings:
    """When one booking reached its milestones, in seconds from its start."""

    confirmed: float | None = None
    emailed: float | None = None
    final_state: BookingState | None = None
    steps: dict[str, float] = field(default_factory=dict)
    """Seconds each step of the path to the e-mailed receipt took (STEP_PATH), each from
    the step before it (the first from the start)."""


STEP_PATH = (Step.HELD, Step.PAID, Step.CONFIRMED, Step.RECEIPT, Step.EMAILED)
"""A booking's way to its e-mailed receipt as the workflow records it; PAID includes the
wait for the traveller's card (the driver's, as the website's, only once the room is
held) and the capture runs beside RECEIPT."""


def step_durations(started: float, times: dict[Step, datetime]) -> dict[str, float]:
    """How long each step of STEP_PATH took, from the step times a booking recorded."""
    durations: dict[str, float] = {}
    before = started
    for step in STEP_PATH:
        if step not in times:
            break
        at = times[step].timestamp()
        durations[step.value] = at - before
        before = at
    return durations


@dataclass
class Room:
    """A bookable room type of a hotel, with what the receipt shows of it."""

    hotel_id: int
    room_type_id: int
    hotel_name: str
    hotel_address: str
    room_type_name: str


@dataclass
class StackDriver:
    """A client of every part of one running stack."""

    settings: Settings
    secrets: StackSecrets
    http: httpx.AsyncClient
    temporal: Client
    rooms: list[Room] = field(default_factory=list)
    _tokens: dict[tuple[str, str, str], str] = field(default_factory=dict)

    @classmethod
    async def open(cls, settings: Settings) -> StackDriver:
        """Connect to the stack described by `settings` (its var dir holds the secrets)."""
        secrets = StackSecrets.load(settings.var_dir)
        # The stack's payload keys and other shared secrets, unless the caller set them.
        settings = load_settings(local_environment(settings.env))
        http = httpx.AsyncClient(timeout=30)
        return cls(settings, secrets, http, await connect(settings))

    async def close(self) -> None:
        """Close the HTTP connections."""
        await self.http.aclose()

    async def service_token(self, client_id: str, scopes: str, component: str) -> str:
        """A client-credentials token of one of the stack's OAuth clients."""
        key = (client_id, scopes, component)
        if key not in self._tokens:
            auth = AuthClient(
                self.settings.url("auth"),
                client_id,
                self.secrets.client_secret(client_id),
                HttpxTransport(self.http),
                token_url=self.settings.auth_token_url,
            )
            issued = await auth.client_credentials(scopes, audience(component))
            self._tokens[key] = issued.access_token
        return self._tokens[key]

    def service_as(self, component: str, client_id: str | None = None) -> ServiceConnection:
        """A connection to a component, with the tokens of one of the stack's own OAuth
        clients (`client_id`), or none for a component whose routes are open."""

        async def tokens(_audience: str, scopes: str) -> tuple[str, float]:
            if client_id is None:
                raise RuntimeError(f"{component}: no client to get a token as")
            return await self.service_token(client_id, scopes, component), TOKEN_SECONDS

        return ServiceConnection(
            component, self.settings.url(component), tokens, HttpxTransport(self.http)
        )

    def bank(self, key_name: str) -> BankClient:
        """The bank's client with one of the stack's keys (BANK_SECRET_KEY...)."""
        key = self.secrets.shared(key_name)
        return BankClient(self.settings.url("bank"), key, HttpxTransport(self.http))

    async def register_user(self, name: str = "Ada Lovelace") -> tuple[str, str]:
        """A new traveller account, as the website's sign-up makes one: (user id, e-mail)."""
        email = f"traveller-{uuid.uuid4().hex[:10]}@example.com"
        users = UsersClient(self.service_as("users", "web"))
        registration = users_api.Registration(email=email, name=name, password=PASSWORD)
        return (await users.register(registration)).id, email

    async def load_rooms(self, cities: tuple[str, ...] = BIG_CITIES) -> list[Room]:
        """Room types for two guests in some big cities, to spread bookings over."""
        search = SearchClient(self.service_as("search"))
        for city in cities:
            try:
                page = await search.hotels(search_api.HotelQuery(city=city, page_size=50))
            except ServiceError:
                continue
            for summary in page.items:
                hotel = await search.hotel(summary.id)
                self.rooms.extend(
                    Room(hotel.id, room.id, hotel.name, hotel.address, room.name)
                    for room in hotel.room_types
                    if room.capacity >= 2
                )
        if not self.rooms:
            raise RuntimeError("Search listed no bookable rooms")
        return self.rooms

    async def tokenize(self, number: str = "4242424242424242", payer: str | None = None) -> str:
        """A bank token for a test card, as the website's checkout gets one (for the payer's
        own bookings only, if given)."""
        bank = self.bank("BANK_PUBLISHABLE_KEY")
        card = bank_api.TokenRequest(
            number=number,
            exp_month=12,
            exp_year=date.today().year + 3,
            cvc="123",
            holder="Ada Lovelace",
            customer=payer,
        )
        # A token moves no money, so a failed call is simply made again (the website's
        # traveller would press the button again).
        for attempt in range(10):
            try:
                return (await bank.tokenize(card)).token
            except ServiceError as error:
                if not error.retryable or attempt == 9:
                    raise
        raise AssertionError("unreachable")

    async def start_booking(
        self,
        user_id: str,
        room: Room,
        check_in: date,
        nights: int = 2,
        step_budget_seconds: int | None = None,
        booking_id: str | None = None,
    ) -> WorkflowHandle[Any, Any]:
        """Start a booking workflow, as the website's "Book" button does (a fault drill
        may give the steps a shorter budget, and its own booking id to start it again)."""
        booking_id = booking_id or uuid.uuid4().hex[:16]
        request = BookingRequest(
            booking_id=booking_id,
            user_id=user_id,
            hotel_id=room.hotel_id,
            room_type_id=room.room_type_id,
            check_in=check_in,
            check_out=check_in + timedelta(days=nights),
            guests=2,
            guest_name="Ada Lovelace",
            step_budget_seconds=step_budget_seconds,
        )
        return await bookings.start(self.temporal, request)

    async def status(self, handle: WorkflowHandle[Any, Any]) -> BookingView:
        """The booking's status query."""
        view: BookingView = await handle.query(QUERY_STATUS, result_type=BookingView)
        return view

    async def wait_for(
        self,
        handle: WorkflowHandle[Any, Any],
        done: Any,
        timeout: float = 120.0,
        interval: float = POLL_SECONDS,
    ) -> BookingView:
        """Poll the status query until `done(view)` holds; fail after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                view = await self.status(handle)
            except RPCError as error:
                # A query times out when the worker is too busy to answer in time (a loaded
                # machine): ask again, as the page does on its next poll.
                timed_out = error.status in (RPCStatusCode.DEADLINE_EXCEEDED, _CLIENT_TIMEOUT)
                if not timed_out or time.monotonic() > deadline:
                    raise
                continue
            if done(view):
                return view
            if time.monotonic() > deadline:
                raise TimeoutError(f"{handle.id} stuck at {view.state} {view.steps}")
            await asyncio.sleep(interval)

    async def pay(self, handle: WorkflowHandle[Any, Any], card_token: str) -> BookingView:
        """The submit_payment update; answers once the payment is processed."""
        view: BookingView = await handle.execute_update(
            UPDATE_SUBMIT_PAYMENT, PaymentSubmission(card_token=card_token), result_type=BookingView
        )
        return view

    async def book(
        self,
        user_id: str,
        room: Room | None = None,
        card: str = "4242424242424242",
        follow_seconds: float = POLL_SECONDS,
    ) -> tuple[BookingView, Timings]:
        """One booking from start to e-mailed receipt (or its failure), timed; once
        confirmed, its progress is polled every `follow_seconds` (the live page's pace unless
        the caller says otherwise)."""
        room = room or random.choice(self.rooms)  # noqa: S311 - spreading load, not security
        check_in = date.today() + timedelta(days=random.randint(20, 300))  # noqa: S311
        started = time.time()  # the workflow's step times are wall-clock times too
        handle = await self.start_booking(user_id, room, check_in)
        # The traveller types the card while the room is being held.
        card_token = asyncio.create_task(self.tokenize(card, user_id))
        try:
            view = await self.wait_for(
                handle, lambda v: v.state != BookingState.STARTED, interval=HOLD_POLL_SECONDS
            )
        except BaseException:
            card_token.cancel()
            raise
        timings = Timings()
        if view.state == BookingState.AWAITING_PAYMENT:
            view = await self.pay(handle, await card_token)
        else:
            await card_token  # a token moves no money; an unused one just expires
        if view.state == BookingState.CONFIRMED:
            view = await self.wait_for(
                handle, lambda v: Step.EMAILED in v.steps, interval=follow_seconds
            )
            timings.confirmed = view.step_times[Step.CONFIRMED].timestamp() - started
            timings.emailed = view.step_times[Step.EMAILED].timestamp() - started
            timings.steps = step_durations(started, view.step_times)
        timings.final_state = view.state
        return view, timings
