"""Activities of the `notifications` task queue: e-mails to travellers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from temporalio import activity

from activities import models as act
from activities.calls import call
from services.common.http import ServiceClients


class NotificationActivities:
    """Calls the Users service, which knows the traveller's address and sends the mail."""

    def __init__(self, clients: ServiceClients) -> None:
        self.api = clients["users"]

    @activity.defn(name=act.SEND_EMAIL)
    async def send_email(self, data: act.EmailInput) -> act.Email:
        """Have Users e-mail the traveller (once per message key)."""
        body = data.model_dump(mode="json", exclude={"user_id"})
        response = await call(
            self.api,
            "POST",
            f"/users/{data.user_id}/messages",
            scopes="users:notify",
            json=body,
            idempotency_key=data.message_key,
        )
        assert response is not None
        return act.Email(message_id=response.json()["message_id"])

    def all(self) -> list[Callable[..., Any]]:
        """Every activity of this queue."""
        return [self.send_email]
