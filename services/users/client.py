"""Users' one client: every caller of Users' routes goes through `UsersClient`.

Each method sends the route's request model and returns the reply parsed as its response
model, with a service token for the route's scope (`services.common.http.ServiceConnection`
carries the token, the caller's deadline and the request id). A refusal is raised as
`ServiceError` with Users' problem document; no answer at all as `TransportError`.
"""

from __future__ import annotations

from services.common.client import TypedClient
from services.users import api


class UsersClient(TypedClient):
    """Users' routes, one typed method each."""

    async def register(self, registration: api.Registration) -> api.Registered:
        """Create a traveller's account and e-mail its verification link."""
        reply = await self._send("POST", api.USERS_PATH, api.REGISTER, registration)
        return api.Registered.model_validate_json(reply)

    async def user(self, user_id: str) -> api.User:
        """An account by id (whether its address is verified, say)."""
        reply = await self._send("GET", api.user_path(user_id), api.READ)
        return api.User.model_validate_json(reply)

    async def resend_verification(self, user_id: str) -> api.Accepted:
        """E-mail an account's verification link again (at most once a minute)."""
        reply = await self._send("POST", api.verification_mail_path(user_id), api.REGISTER)
        return api.Accepted.model_validate_json(reply)

    async def verify_email(self, link: api.LinkToken) -> api.User:
        """Mark an address verified with the token of its e-mailed link."""
        reply = await self._send("POST", api.EMAIL_VERIFICATIONS_PATH, api.REGISTER, link)
        return api.User.model_validate_json(reply)

    async def request_password_reset(self, request: api.PasswordResetRequest) -> api.Accepted:
        """E-mail a reset link to the address if it has an account (the answer never says)."""
        reply = await self._send("POST", api.PASSWORD_RESETS_PATH, api.REGISTER, request)
        return api.Accepted.model_validate_json(reply)

    async def reset_password(self, reset: api.PasswordReset) -> api.Accepted:
        """Set a new password with the token of a reset link."""
        reply = await self._send("POST", api.PASSWORD_RESET_CONFIRM_PATH, api.REGISTER, reset)
        return api.Accepted.model_validate_json(reply)

    async def check_credentials(self, check: api.CredentialCheck) -> api.CredentialsValid:
        """The account an e-mail and password belong to (401 if they do not match)."""
        reply = await self._send("POST", api.CREDENTIALS_CHECK_PATH, api.CREDENTIALS, check)
        return api.CredentialsValid.model_validate_json(reply)

    async def redeem_signup_ticket(self, ticket: api.SignupTicket) -> api.CredentialsValid:
        """The account a sign-up ticket signs in (401 if it is not valid for the challenge)."""
        reply = await self._send("POST", api.SIGNUP_TICKETS_PATH, api.CREDENTIALS, ticket)
        return api.CredentialsValid.model_validate_json(reply)

    async def notify(self, user_id: str, request: api.NotificationRequest) -> api.MessageStatus:
        """E-mail a booking event to an account (once per message key)."""
        reply = await self._call(
            "POST",
            api.messages_path(user_id),
            api.NOTIFY,
            request,
            idempotency_key=request.message_key,
        )
        return api.MessageStatus.model_validate_json(reply.content)
