"""What an operator may do to a running booking, besides what its traveller may: the
updates of `BookingWorkflow` that only the website's operator pages send.

Each action is kept twice: in the workflow's history (the update's input names the
operator and the reason) and in the booking's status view (`operator_actions`).
Deterministic code only, like the workflow it is mixed into.
"""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities import models as act
    from workflows.models import (
        UPDATE_RESEND_CONFIRMATION,
        BookingState,
        BookingView,
        CancelRequest,
        Operator,
        OperatorAction,
        OperatorActionKind,
        ResendRequest,
        Step,
    )


class OperatorActions:
    """Mixed into BookingWorkflow: the operators' updates, over the booking's own state."""

    view: BookingView
    cancel_request: CancelRequest | None
    resending: bool

    async def _email(
        self,
        template: act.EmailTemplate,
        event: str,
        attachments: list[act.Attachment],
        refund: int | None = None,
    ) -> None:
        raise NotImplementedError  # BookingWorkflow's

    def _operator_did(self, kind: OperatorActionKind, operator: Operator, reason: str) -> None:
        action = OperatorAction(action=kind, operator=operator, reason=reason, at=workflow.now())
        self.view.operator_actions.append(action)
        self.view.updated_at = workflow.now()

    @workflow.update(name=UPDATE_RESEND_CONFIRMATION)
    async def resend_confirmation(self, request: ResendRequest) -> BookingView:
        """E-mail the confirmation (and its receipt) to the traveller again."""
        self.resending = True
        self._operator_did(OperatorActionKind.RESEND_CONFIRMATION, request.operator, request.reason)
        # Each resend is a message of its own: the e-mail step sends a message key once.
        sent = sum(
            a.action == OperatorActionKind.RESEND_CONFIRMATION for a in self.view.operator_actions
        )
        assert self.view.receipt_document_id is not None
        receipt = act.Attachment(document_id=self.view.receipt_document_id, filename="receipt.pdf")
        try:
            await self._email("booking-confirmed", f"confirmed-resent-{sent}", [receipt])
        finally:
            self.resending = False
        return self.view

    @resend_confirmation.validator
    def _validate_resend(self, request: ResendRequest) -> None:
        state = self.view.state
        if state != BookingState.CONFIRMED or self.cancel_request is not None:
            raise ValueError(f"Only a confirmed booking's confirmation is resent ({state.value}).")
        if Step.EMAILED not in self.view.steps or self.view.receipt_document_id is None:
            raise ValueError("The confirmation has not been sent yet: it is on its way.")
        if self.resending:
            raise ValueError("The confirmation is being resent already.")
