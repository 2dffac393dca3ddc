"""Payments' one client: every caller of Payments' routes goes through `PaymentsClient`.

Each method sends the route's request model and returns the reply parsed as its response
model, with a service token for the route's scope (`services.common.http.ServiceConnection`
carries the token, the caller's deadline and the request id). A refusal is raised as
`ServiceError` with Payments' problem document; no answer at all as `TransportError`.
"""

from __future__ import annotations

from services.common.client import TypedClient
from services.payments import api


class PaymentsClient(TypedClient):
    """Payments' routes, one typed method each."""

    async def authorize(self, request: api.PaymentRequest) -> api.Payment:
        """Authorize a booking's amount on a card token (idempotent per booking and attempt)."""
        # The first attempt goes as it always did, so a Payments not yet knowing attempts
        # takes it while the services are upgraded one by one.
        body = request.model_dump(
            mode="json", exclude={"attempt"} if request.attempt == 1 else None
        )
        return api.Payment.model_validate_json(
            await self._send("POST", api.PAYMENTS_PATH, api.CHARGE, body)
        )

    async def capture(
        self, booking_id: str, request: api.CaptureRequest | None = None
    ) -> api.Payment:
        """Capture a booking's payment, all of it unless the request says how much."""
        body = (request or api.CaptureRequest()).model_dump(mode="json", exclude_none=True)
        path = api.capture_path(booking_id)
        return api.Payment.model_validate_json(await self._send("POST", path, api.CHARGE, body))

    async def void(self, booking_id: str) -> api.VoidResult:
        """Void a booking's uncaptured payment, or fence off one that lands later."""
        body = api.VoidRequest().model_dump(mode="json")
        path = api.void_path(booking_id)
        return api.VoidResult.model_validate_json(await self._send("POST", path, api.CHARGE, body))

    async def refund(self, booking_id: str, request: api.RefundRequest) -> api.Payment:
        """Refund part of a booking's payment (idempotent per refund id); the payment after."""
        body = request.model_dump(mode="json")
        path = api.refunds_path(booking_id)
        return api.Payment.model_validate_json(await self._send("POST", path, api.CHARGE, body))

    async def payment(self, booking_id: str) -> api.Payment:
        """A booking's payment with its transitions and refunds."""
        path = api.payment_path(booking_id)
        return api.Payment.model_validate_json(await self._send("GET", path, api.READ))

    async def payments(self, query: api.PaymentQuery) -> api.PaymentList:
        """A traveller's payments, newest first."""
        params = query.model_dump(mode="json", exclude_none=True)
        return api.PaymentList.model_validate_json(
            await self._send("GET", api.PAYMENTS_PATH, api.READ, query=params)
        )

    async def suspects(self, query: api.SuspectQuery) -> api.PaymentSuspects:
        """Payments that may hold money nobody will capture, oldest first."""
        params = query.model_dump(mode="json")
        return api.PaymentSuspects.model_validate_json(
            await self._send("GET", api.SUSPECTS_PATH, api.RECONCILE, query=params)
        )

    async def repair(self, booking_id: str) -> api.RepairResult:
        """Void what a booking that gave up left authorized, at the bank too."""
        body = api.RepairRequest().model_dump(mode="json")
        path = api.repair_path(booking_id)
        return api.RepairResult.model_validate_json(
            await self._send("POST", path, api.RECONCILE, body)
        )
