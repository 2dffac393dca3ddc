"""Stand-ins for what the website calls: services over HTTP, and a Temporal client."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from typing import Any
from urllib.parse import parse_qs

import httpx
from pydantic import BaseModel
from temporalio.client import WorkflowExecutionStatus
from temporalio.common import SearchAttributePair, TypedSearchAttributes
from temporalio.service import RPCError, RPCStatusCode

from services.bank import api as bank_api
from services.users import api as users_api
from temporal.names import BOOKING_STATUS, CHECK_IN, HOTEL_ID, USER_ID
from workflows.models import (
    QUERY_CANCELLATION_QUOTE,
    QUERY_STATUS,
    UPDATE_CANCEL,
    UPDATE_RESEND_CONFIRMATION,
    UPDATE_SUBMIT_PAYMENT,
    BookingRequest,
    BookingState,
    BookingView,
    CancellationQuote,
    Operator,
    OperatorAction,
    OperatorActionKind,
    Step,
)

Handler = Callable[[httpx.Request], httpx.Response]


def _json(status: int, model: BaseModel) -> httpx.Response:
    """An answer carrying a contract's response model, as its service sends it."""
    return httpx.Response(
        status, content=model.model_dump_json(), headers={"content-type": "application/json"}
    )


class RoutingTransport(httpx.AsyncBaseTransport):
    """Sends each request to the app or handler registered for its host:port."""

    def __init__(self, routes: dict[str, httpx.AsyncBaseTransport | Handler]) -> None:
        self.routes = {
            base.rstrip("/"): route
            if isinstance(route, httpx.AsyncBaseTransport)
            else httpx.MockTransport(route)
            for base, route in routes.items()
        }
        self.requests: list[httpx.Request] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Route by origin; unknown origins answer 503 as an unreachable service would."""
        self.requests.append(request)
        origin = f"{request.url.scheme}://{request.url.netloc.decode()}"
        route = self.routes.get(origin)
        if route is None:
            raise httpx.ConnectError(f"nothing listens at {origin}", request=request)
        return await route.handle_async_request(request)


def form_of(request: httpx.Request) -> dict[str, str]:
    """A form-encoded request body as a dict."""
    return {k: v[0] for k, v in parse_qs(request.content.decode()).items()}


@dataclass
class FakeServices:
    """Answers for auth, reservations, users, bank and pdf, recording what they got."""

    issuer: Any
    availability: list[dict[str, Any]] | None = None
    availability_status: int = 200
    bank_status: int = 201
    bank_problem: dict[str, Any] | None = None
    users_status: int = 201
    calls: dict[str, list[httpx.Request]] = field(default_factory=dict)
    next_user: str = "user-1"
    next_scope: str = "profile documents:read"
    unverified: set[str] = field(default_factory=set)  # accounts not yet verified

    def _record(self, name: str, request: httpx.Request) -> None:
        self.calls.setdefault(name, []).append(request)

    def auth(self, request: httpx.Request) -> httpx.Response:
        """Token and revoke endpoints."""
        self._record(request.url.path, request)
        if request.url.path == "/oauth2/revoke":
            return httpx.Response(200)
        form = form_of(request)
        if form.get("code") == "bad":
            return httpx.Response(400, json={"error": "invalid_grant"})
        token = self.issuer.user_token(self.next_user, self.next_scope, "pdf")
        return httpx.Response(
            200,
            json={
                "access_token": token,
                "token_type": "Bearer",
                "expires_in": 300,
                "refresh_token": "rt-" + self.next_user,
                "scope": "profile",
            },
        )

    def reservations(self, request: httpx.Request) -> httpx.Response:
        """GET /availability: a HotelAvailability whose room types say what `availability`
        gives (room_type_id and rooms_left), the rest made up."""
        self._record("availability", request)
        if self.availability_status != 200:
            return httpx.Response(self.availability_status, json={"title": "down"})
        rooms = [
            {"capacity": 2, "nightly_rate": 10_000, "total": 20_000, "currency": "EUR", **entry}
            for entry in self.availability or []
        ]
        hotel_id = int(request.url.params["hotel_id"])
        return httpx.Response(200, json={"hotel_id": hotel_id, "nights": 2, "room_types": rooms})

    def users(self, request: httpx.Request) -> httpx.Response:
        """POST /users, and the e-mailed-link steps."""
        self._record("users", request)
        if request.method == "GET":
            user_id = request.url.path.rsplit("/", 1)[-1]
            verified = user_id not in self.unverified
            return _json(200, self._user(user_id, "ada@example.com", "Ada", verified=verified))
        body = json.loads(request.content or b"{}")
        if request.url.path != users_api.USERS_PATH:
            if body.get("token") == "expired":
                return httpx.Response(400, json={"type": "invalid-link", "title": "bad link"})
            if request.url.path == users_api.EMAIL_VERIFICATIONS_PATH:
                return _json(200, self._user("user-1", "ada@example.com", "Ada", verified=True))
            accepted = users_api.Accepted(status="accepted")
            return _json(200 if "confirm" in request.url.path else 202, accepted)
        if self.users_status == 409:
            return httpx.Response(409, json={"type": "email-taken", "field": "email"})
        created = self._user("user-new", body["email"], body["name"])
        challenge = body.get("signin_challenge")
        ticket = f"ticket-for-{challenge}" if challenge else None
        registered = users_api.Registered(**created.model_dump(), signin_ticket=ticket)
        return _json(self.users_status, registered)

    @staticmethod
    def _user(user_id: str, email: str, name: str, verified: bool = False) -> users_api.User:
        return users_api.User(
            id=user_id,
            email=email,
            name=name,
            email_verified=verified,
            created_at=datetime.now(UTC),
        )

    def bank(self, request: httpx.Request) -> httpx.Response:
        """POST /tokens."""
        self._record("bank", request)
        if self.bank_status != 201:
            return httpx.Response(
                self.bank_status,
                json=self.bank_problem
                or {"type": "card-invalid", "field": "number", "detail": "Unknown card."},
            )
        card = json.loads(request.content)
        token = bank_api.CardToken(
            token="tok_test_1234abcd",
            brand="visa",
            last4=card["number"][-4:],
            exp_month=card["exp_month"],
            exp_year=card["exp_year"],
        )
        return _json(201, token)

    def pdf(self, request: httpx.Request) -> httpx.Response:
        """GET /documents/{id}."""
        self._record("pdf", request)
        return httpx.Response(
            200, content=b"%PDF-1.4 receipt", headers={"content-type": "application/pdf"}
        )


class FakeHandle:
    """A workflow handle answering the status and quote queries and the two updates."""

    def __init__(self, temporal: FakeTemporal, workflow_id: str) -> None:
        self.temporal = temporal
        self.id = workflow_id

    def _view(self) -> BookingView:
        view = self.temporal.views.get(self.id)
        if view is None:
            raise RPCError("workflow not found", RPCStatusCode.NOT_FOUND, b"")
        return view

    async def query(self, name: str, *, result_type: type, rpc_timeout: Any = None) -> Any:
        """QUERY_STATUS / QUERY_CANCELLATION_QUOTE."""
        view = self._view()
        if name == QUERY_STATUS:
            assert result_type is BookingView
            return view
        assert name == QUERY_CANCELLATION_QUOTE and result_type is CancellationQuote
        return CancellationQuote(
            cancellable=view.state == BookingState.CONFIRMED,
            refund=view.total or 0,
            fee=0,
            currency=view.currency or "EUR",
        )

    async def execute_update(self, name: str, arg: Any, result_type: Any = None) -> Any:
        """UPDATE_SUBMIT_PAYMENT / UPDATE_CANCEL, with the outcome the test chose; the
        payment answers with the booking."""
        view = self._view()
        self.temporal.updates.append((self.id, name, arg))
        if name == UPDATE_SUBMIT_PAYMENT and self.temporal.declines_to_come:
            self.temporal.declines_to_come -= 1
            view.declined_cards += 1
            view.decline_reason = "Your card has insufficient funds."
        elif name == UPDATE_SUBMIT_PAYMENT:
            if self.temporal.decline:
                view.state = BookingState.FAILED
                view.steps = [Step.HELD, Step.RELEASED]
                view.failure_reason = "The card was declined."
            else:
                view.state = BookingState.CONFIRMED
                view.steps = [Step.HELD, Step.PAID, Step.CONFIRMED, Step.CAPTURED, Step.RECEIPT]
                view.confirmation_code = "SS-ABC123"
                view.receipt_document_id = "doc-1"
        elif name == UPDATE_CANCEL and view.state == BookingState.AWAITING_PAYMENT:
            # The room given up before paying: released, nothing charged.
            view.state = BookingState.CANCELLED
            view.steps = [Step.HELD, Step.RELEASED]
            view.failure_reason = "You released the room. Nothing was charged."
        elif name == UPDATE_CANCEL:
            view.state = BookingState.CANCELLED
            view.refunded = view.total or 0
            if arg.operator is not None:
                self._operator_did(view, OperatorActionKind.CANCEL, arg.operator, arg.reason)
        elif name == UPDATE_RESEND_CONFIRMATION:
            kind = OperatorActionKind.RESEND_CONFIRMATION
            self._operator_did(view, kind, arg.operator, arg.reason)
        return view.model_copy(deep=True) if name == UPDATE_SUBMIT_PAYMENT else None

    @staticmethod
    def _operator_did(
        view: BookingView, kind: OperatorActionKind, operator: Operator, reason: str
    ) -> None:
        action = OperatorAction(action=kind, operator=operator, reason=reason, at=datetime.now(UTC))
        view.operator_actions.append(action)


@dataclass
class _Execution:
    id: str
    status: WorkflowExecutionStatus
    typed_search_attributes: TypedSearchAttributes
    start_time: datetime


class FakeTemporal:
    """The few Client methods the website uses, over in-memory bookings."""

    def __init__(self) -> None:
        self.views: dict[str, BookingView] = {}
        self.started: list[dict[str, Any]] = []
        self.updates: list[tuple[str, str, Any]] = []
        self.queries: list[str] = []
        self.decline = False  # a decline ends the booking (bookings from before the patch)
        self.declines_to_come = 0  # so many cards are declined, the room kept for the next

    async def start_workflow(self, workflow: str, arg: BookingRequest, **options: Any) -> None:
        """Record the start and hold the room at once."""
        self.started.append({"workflow": workflow, "arg": arg, **options})
        self.views[options["id"]] = BookingView(
            booking_id=arg.booking_id,
            user_id=arg.user_id,
            state=BookingState.AWAITING_PAYMENT,
            steps=[Step.HELD],
            hotel_id=arg.hotel_id,
            room_type_id=arg.room_type_id,
            check_in=arg.check_in,
            check_out=arg.check_out,
            guests=arg.guests,
            hold_expires_at=datetime.now(UTC) + timedelta(minutes=15),
            pay_by=datetime.now(UTC) + timedelta(minutes=15) - timedelta(seconds=30),
            free_cancellation_until=datetime.combine(arg.check_in, time(14), UTC)
            - timedelta(hours=48),
            late_cancellation_fee=15000,
            total=30000,
            currency="EUR",
        )
        self._attributes = options["search_attributes"]

    def get_workflow_handle(self, workflow_id: str) -> FakeHandle:
        """A handle on a booking."""
        return FakeHandle(self, workflow_id)

    async def list_workflows(self, query: str, limit: int | None = None) -> AsyncIterator[Any]:
        """Bookings matching the query's UserId and BookingStatus, if it names them."""
        self.queries.append(query)
        for workflow_id, view in self.views.items():
            if "UserId = " in query and f"UserId = '{view.user_id}'" not in query:
                continue
            if "BookingStatus = " in query and f"BookingStatus = '{view.state}'" not in query:
                continue
            yield _Execution(
                id=workflow_id,
                status=WorkflowExecutionStatus.RUNNING,
                typed_search_attributes=TypedSearchAttributes(
                    [
                        SearchAttributePair(BOOKING_STATUS, view.state.value),
                        SearchAttributePair(HOTEL_ID, str(view.hotel_id)),
                        SearchAttributePair(
                            CHECK_IN, datetime.combine(view.check_in, datetime.min.time(), UTC)
                        ),
                        SearchAttributePair(USER_ID, view.user_id),
                    ]
                ),
                start_time=datetime.now(UTC),
            )
