"""Activities of the `payments` task queue: authorise, capture, void, refund."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from temporalio import activity

from activities import models as act
from activities.calls import run
from services.common.http import ServiceConnections
from services.payments import api
from services.payments.client import PaymentsClient


def _payment(payment: api.Payment) -> act.Payment:
    """The saga's view of a payment (the fields its histories carry)."""
    return act.Payment(
        payment_id=payment.payment_id,
        status=payment.status,
        amount=payment.amount,
        captured=payment.captured,
        refunded=payment.refunded,
        currency=payment.currency,
        reference=payment.bank_authorization_id,
        card_brand=payment.card_brand,
        card_last4=payment.card_last4,
    )


class PaymentActivities:
    """Calls the Payments service, which alone talks to the bank.

    Payments derives the bank's idempotency keys from the booking and the operation, so
    a retried activity never charges twice.
    """

    def __init__(self, connections: ServiceConnections) -> None:
        self.payments = PaymentsClient(connections["payments"])

    @activity.defn(name=act.AUTHORIZE_PAYMENT)
    async def authorize_payment(self, data: act.AuthorizeInput) -> act.Payment:
        """Authorise the amount on the card token."""
        # Unvalidated here: Payments judges the request, and its 422 is a business refusal.
        request = api.PaymentRequest.model_construct(
            booking_id=data.booking_id,
            user_id=data.user_id,
            amount=data.amount,
            currency=data.currency,
            card_token=data.card_token,
            attempt=data.attempt,
        )
        return _payment(await run(self.payments.authorize(request), "payments"))

    @activity.defn(name=act.CAPTURE_PAYMENT)
    async def capture_payment(self, data: act.PaymentRef) -> act.Payment:
        """Capture the authorised amount."""
        return _payment(await run(self.payments.capture(data.booking_id), "payments"))

    @activity.defn(name=act.VOID_PAYMENT)
    async def void_payment(self, data: act.PaymentRef) -> act.Payment:
        """Void the booking's authorization; with none yet, Payments records the void so
        that an authorization landing later is voided too."""
        result = await run(self.payments.void(data.booking_id), "payments")
        if result.payment is None:
            return act.Payment(payment_id="", status=result.status, amount=0, currency="")
        return _payment(result.payment)

    @activity.defn(name=act.REFUND_PAYMENT)
    async def refund_payment(self, data: act.RefundInput) -> act.Payment:
        """Refund part or all of the captured amount, once per refund id; the payment after."""
        request = api.RefundRequest.model_construct(amount=data.amount, refund_id=data.refund_id)
        return _payment(await run(self.payments.refund(data.booking_id, request), "payments"))

    def all(self) -> list[Callable[..., Any]]:
        """Every activity of this queue."""
        return [
            self.authorize_payment,
            self.capture_payment,
            self.void_payment,
            self.refund_payment,
        ]
