"""Activities of the `payments` task queue: authorise, capture, void, refund."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from temporalio import activity

from activities import models as act
from activities.calls import call
from services.common.http import ServiceClients

CHARGE = "payments:charge"


def _payment(body: dict[str, Any]) -> act.Payment:
    return act.Payment(
        payment_id=body["payment_id"],
        status=body["status"],
        amount=body["amount"],
        captured=body.get("captured", 0),
        refunded=body.get("refunded", 0),
        currency=body["currency"],
        reference=body.get("bank_authorization_id"),
    )


class PaymentActivities:
    """Calls the Payments service, which alone talks to the bank.

    Payments derives the bank's idempotency keys from the booking and the operation, so
    a retried activity never charges twice.
    """

    def __init__(self, clients: ServiceClients) -> None:
        self.api = clients["payments"]

    @activity.defn(name=act.AUTHORIZE_PAYMENT)
    async def authorize_payment(self, data: act.AuthorizeInput) -> act.Payment:
        """Authorise the amount on the card token."""
        response = await call(
            self.api, "POST", "/payments", scopes=CHARGE, json=data.model_dump(mode="json")
        )
        assert response is not None
        return _payment(response.json())

    @activity.defn(name=act.CAPTURE_PAYMENT)
    async def capture_payment(self, data: act.PaymentRef) -> act.Payment:
        """Capture the authorised amount."""
        response = await call(
            self.api, "POST", f"/payments/{data.booking_id}/capture", scopes=CHARGE, json={}
        )
        assert response is not None
        return _payment(response.json())

    @activity.defn(name=act.VOID_PAYMENT)
    async def void_payment(self, data: act.PaymentRef) -> act.Payment:
        """Void the booking's authorization; with none yet, Payments records the void so
        that an authorization landing later is voided too."""
        response = await call(
            self.api, "POST", f"/payments/{data.booking_id}/void", scopes=CHARGE, json={}
        )
        assert response is not None
        body = response.json()
        if body.get("payment") is None:
            return act.Payment(payment_id="", status=body["status"], amount=0, currency="")
        return _payment(body["payment"])

    @activity.defn(name=act.REFUND_PAYMENT)
    async def refund_payment(self, data: act.RefundInput) -> act.Payment:
        """Refund part or all of the captured amount, once per refund id."""
        response = await call(
            self.api,
            "POST",
            f"/payments/{data.booking_id}/refunds",
            scopes=CHARGE,
            json={"amount": data.amount, "refund_id": data.refund_id},
        )
        assert response is not None
        body = response.json()
        # The refund endpoint may answer with the refund or with the payment.
        if "payment" in body:
            body = body["payment"]
        return _payment(body)

    def all(self) -> list[Callable[..., Any]]:
        """Every activity of this queue."""
        return [
            self.authorize_payment,
            self.capture_payment,
            self.void_payment,
            self.refund_payment,
        ]
