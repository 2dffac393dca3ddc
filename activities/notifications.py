"""Activities of the `notifications` task queue: e-mails to travellers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from temporalio import activity

from activities import models as act
from activities.calls import run
from services.common.http import ServiceConnections
from services.users import api
from services.users.client import UsersClient


class NotificationActivities:
    """Calls the Users service, which knows the traveller's address and sends the mail."""

    def __init__(self, connections: ServiceConnections) -> None:
        self.users = UsersClient(connections["users"])

    @activity.defn(name=act.SEND_EMAIL)
    async def send_email(self, data: act.EmailInput) -> act.Email:
        """Have Users e-mail the traveller (once per message key)."""
        request = api.NotificationRequest(
            template=data.template,
            data=data.data.model_dump(mode="json", exclude_none=True),
            attachments=[api.AttachmentRef(**a.model_dump()) for a in data.attachments],
            message_key=data.message_key,
        )
        status = await run(self.users.notify(data.user_id, request), "users")
        return act.Email(message_id=status.message_id)

    def all(self) -> list[Callable[..., Any]]:
        """Every activity of this queue."""
        return [self.send_email]
