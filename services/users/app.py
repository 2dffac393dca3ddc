"""The Users service's routes: accounts, links from account e-mails, credential checks,
and the booking e-mails the saga asks for.

Scopes: `users:register` (the website's anonymous account flows: sign-up, verification,
password reset), `profile` (a traveller's own account), `users:read` (services reading an
account), `users:credentials` (the auth service only), `users:notify` (the notifications
worker).
"""

from __future__ import annotations

import logging
import secrets
from typing import cast

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse

from components.settings import load_settings
from services.common.app import create_service_app, model_response
from services.common.auth import ensure_owner, principal
from services.common.http import ServiceConnections
from services.common.mail import SmtpConfig
from services.common.openapi import Endpoint
from services.common.problems import Problem, not_found, parse_body
from services.common.settings import Settings
from services.users import api, notifications
from services.users.domain import Accounts
from services.users.links import LinkSigner
from services.users.metrics import GAUGES
from services.users.outbox import Courier
from services.users.settings import UsersSettings

log = logging.getLogger("staysaga.users")


def _accounts(request: Request) -> Accounts:
    return cast(Accounts, request.app.state.accounts)


def _wake_courier(request: Request) -> None:
    request.app.state.courier.wake()


async def register(request: Request) -> JSONResponse:
    """POST /users: sign up; the verification e-mail is queued with the account."""
    body = await parse_body(api.Registration, request)
    user = await _accounts(request).register(body)
    _wake_courier(request)
    response = model_response(user, status=201)
    response.headers["Location"] = api.user_path(user.id)
    return response


def _own_id(request: Request) -> str:
    who = principal(request)
    if who.is_service:
        # /users/me means the traveller behind the token; a service has no account.
        raise not_found("user", "me")
    return who.subject


async def show_me(request: Request) -> JSONResponse:
    """GET /users/me: the caller's own account."""
    user = await _accounts(request).get(_own_id(request))
    if user is None:
        raise not_found("user", "me")
    return model_response(user)


async def update_me(request: Request) -> JSONResponse:
    """PATCH /users/me: change the caller's own name."""
    body = await parse_body(api.ProfileUpdate, request)
    user = await _accounts(request).update_profile(_own_id(request), body)
    if user is None:
        raise not_found("user", "me")
    return model_response(user)


async def show_user(request: Request) -> JSONResponse:
    """GET /users/{user_id}: an account, for services (a traveller: only their own)."""
    user_id = request.path_params["user_id"]
    ensure_owner(principal(request), user_id, "user", user_id)
    user = await _accounts(request).get(user_id)
    if user is None:
        raise not_found("user", user_id)
    return model_response(user)


async def verify_email(request: Request) -> JSONResponse:
    """POST /email-verifications: the token of a verification link marks the address."""
    body = await parse_body(api.LinkToken, request)
    return model_response(await _accounts(request).verify_email(body.token))


async def request_password_reset(request: Request) -> JSONResponse:
    """POST /password-resets: always 202, whether or not the address has an account."""
    body = await parse_body(api.PasswordResetRequest, request)
    await _accounts(request).request_reset(body.email)
    _wake_courier(request)
    return model_response(api.Accepted(status="accepted"), status=202)


async def reset_password(request: Request) -> JSONResponse:
    """POST /password-resets/confirm: set a new password with the token of a reset link."""
    body = await parse_body(api.PasswordReset, request)
    await _accounts(request).reset_password(body.token, body.password)
    return model_response(api.Accepted(status="password-changed"))


async def check_credentials(request: Request) -> JSONResponse:
    """POST /credentials/check: the account, or 401 invalid-credentials (never saying why)."""
    body = await parse_body(api.CredentialCheck, request)
    found = await _accounts(request).check_credentials(body.email, body.password)
    if found is None:
        raise Problem(401, api.INVALID_CREDENTIALS, "The e-mail or the password is wrong.")
    return model_response(found)


async def redeem_signup_ticket(request: Request) -> JSONResponse:
    """POST /credentials/sign-up-tickets: the account a sign-up ticket signs in, or 401."""
    body = await parse_body(api.SignupTicket, request)
    found = await _accounts(request).redeem_signup_ticket(body.ticket, body.code_challenge)
    if found is None:
        raise Problem(401, api.INVALID_CREDENTIALS, "The sign-up ticket is not valid.")
    return model_response(found)


async def send_message(request: Request) -> JSONResponse:
    """POST /users/{user_id}/messages: queue a booking e-mail (idempotent on message_key)."""
    user_id = request.path_params["user_id"]
    ensure_owner(principal(request), user_id, "user", user_id)
    body = await parse_body(api.NotificationRequest, request)
    status, created = await notifications.notify(
        request.app.state.engine,
        request.app.state.connections,
        user_id,
        body,
        request.app.state.accounts.link_base,
    )
    if created:
        _wake_courier(request)
    response = model_response(status, status=202)
    response.headers["Location"] = api.message_path(user_id, status.message_id)
    return response


async def resend_verification(request: Request) -> JSONResponse:
    """POST /users/{user_id}/verification-email: e-mail the verification link again."""
    user_id = request.path_params["user_id"]
    accepted = await _accounts(request).resend_verification(user_id)
    if accepted is None:
        raise not_found("user", user_id)
    _wake_courier(request)
    return model_response(accepted, status=202)


async def show_message(request: Request) -> JSONResponse:
    """GET /users/{user_id}/messages/{message_id}: pending or sent, and how many attempts."""
    user_id = request.path_params["user_id"]
    ensure_owner(principal(request), user_id, "user", user_id)
    status = await notifications.message_status(
        request.app.state.engine, user_id, request.path_params["message_id"]
    )
    return model_response(status)


ENDPOINTS = (
    Endpoint(
        "POST",
        api.VERIFICATION_MAIL_PATH,
        resend_verification,
        "E-mail an account's verification link again (at most once a minute)",
        response=api.Accepted,
        status=202,
        errors=(404,),
        scope=api.REGISTER,
        tags=("accounts",),
    ),
    Endpoint(
        "POST",
        api.USERS_PATH,
        register,
        "Sign up: create an account and e-mail its verification link",
        body=api.Registration,
        response=api.Registered,
        status=201,
        errors=(409, 422),
        scope=api.REGISTER,
        tags=("accounts",),
    ),
    Endpoint(
        "GET",
        api.ME_PATH,
        show_me,
        "The caller's own account",
        response=api.User,
        errors=(404,),
        scope="profile",
        tags=("profile",),
    ),
    Endpoint(
        "PATCH",
        api.ME_PATH,
        update_me,
        "Change the caller's own name",
        body=api.ProfileUpdate,
        response=api.User,
        errors=(404, 422),
        scope="profile",
        tags=("profile",),
    ),
    Endpoint(
        "GET",
        api.USER_PATH,
        show_user,
        "An account by id",
        response=api.User,
        errors=(404,),
        scope=api.READ,
        tags=("accounts",),
    ),
    Endpoint(
        "POST",
        api.EMAIL_VERIFICATIONS_PATH,
        verify_email,
        "Mark an address verified with the token of its link",
        body=api.LinkToken,
        response=api.User,
        errors=(400, 422),
        scope=api.REGISTER,
        tags=("accounts",),
    ),
    Endpoint(
        "POST",
        api.PASSWORD_RESETS_PATH,
        request_password_reset,
        "E-mail a password reset link (the answer never says whether the account exists)",
        body=api.PasswordResetRequest,
        response=api.Accepted,
        status=202,
        errors=(422,),
        scope=api.REGISTER,
        tags=("accounts",),
    ),
    Endpoint(
        "POST",
        api.PASSWORD_RESET_CONFIRM_PATH,
        reset_password,
        "Set a new password with the token of a reset link",
        body=api.PasswordReset,
        response=api.Accepted,
        errors=(400, 422),
        scope=api.REGISTER,
        tags=("accounts",),
    ),
    Endpoint(
        "POST",
        api.CREDENTIALS_CHECK_PATH,
        check_credentials,
        "Check an e-mail and password (the auth service's sign-in)",
        body=api.CredentialCheck,
        response=api.CredentialsValid,
        errors=(401, 422),
        scope=api.CREDENTIALS,
        tags=("auth",),
    ),
    Endpoint(
        "POST",
        api.SIGNUP_TICKETS_PATH,
        redeem_signup_ticket,
        "The account a sign-up ticket signs in (the auth service's sign-in after sign-up)",
        body=api.SignupTicket,
        response=api.CredentialsValid,
        errors=(401, 422),
        scope=api.CREDENTIALS,
        tags=("auth",),
    ),
    Endpoint(
        "POST",
        api.MESSAGES_PATH,
        send_message,
        "E-mail a booking event to the account (idempotent on message_key)",
        body=api.NotificationRequest,
        response=api.MessageStatus,
        status=202,
        errors=(404, 409, 422, 503),
        scope=api.NOTIFY,
        tags=("notifications",),
    ),
    Endpoint(
        "GET",
        api.MESSAGE_PATH,
        show_message,
        "Whether a queued e-mail has been handed to SMTP",
        response=api.MessageStatus,
        errors=(404,),
        scope=api.NOTIFY,
        tags=("notifications",),
    ),
)


def _link_secret(settings: Settings) -> str:
    secret = settings.of(UsersSettings).link_secret
    if secret:
        return str(secret)
    log.warning(
        "USERS_LINK_SECRET is not set: using a random one, so e-mailed links stop working "
        "when this process stops (and on other copies of the service)"
    )
    return secrets.token_urlsafe(32)


def create_app(
    settings: Settings | None = None, connections: ServiceConnections | None = None
) -> Starlette:
    """The Users ASGI app; `connections` (for the PDF service) defaults to client credentials."""
    settings = settings or load_settings()

    async def start(app: Starlette) -> None:
        engine = app.state.engine
        link_base = settings.of(UsersSettings).link_base_url or settings.url("web")
        app.state.accounts = Accounts(engine, LinkSigner(_link_secret(settings)), link_base)
        app.state.connections = connections or ServiceConnections(settings)
        app.state.courier = Courier(
            engine,
            SmtpConfig.from_settings(settings),
            settings.mail.mail_from,
            settings.mail.retry_max_seconds,
        )
        app.state.courier.start()

    async def stop(app: Starlette) -> None:
        await app.state.courier.stop()
        if connections is None:
            await app.state.connections.aclose()

    return create_service_app(
        "users",
        settings,
        ENDPOINTS,
        title="staysaga Users",
        migrations="services.users.migrations",
        gauges=GAUGES,
        on_startup=[start],
        on_shutdown=[stop],
    )
