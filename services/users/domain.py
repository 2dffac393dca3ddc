"""Accounts: sign-up, profile, address verification, password reset, credential checks."""

from __future__ import annotations

import contextlib
import hmac
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from services.common.db import as_utc, write_transaction
from services.common.problems import Problem
from services.users import api, links, mails, outbox, passwords
from services.users.tables import outbox as outbox_table
from services.users.tables import user_roles, users

# One reset e-mail per account per this many seconds: enough for a person, useless for
# someone trying to flood a mailbox.
ACCOUNT_MAIL_INTERVAL_SECONDS = 60

_PUBLIC = (
    users.c.id,
    users.c.email,
    users.c.name,
    users.c.email_verified,
    users.c.created_at,
)


def _user(row: Any) -> api.User:
    return api.User(
        id=row.id,
        email=row.email,
        name=row.name,
        email_verified=row.email_verified,
        created_at=as_utc(row.created_at),
    )


def invalid_link() -> Problem:
    """400 for a verification or reset link that is forged, used, or expired."""
    return Problem(
        400,
        "invalid-link",
        "This link is not valid.",
        "The link is expired, already used, or damaged; ask for a new one.",
        field="token",
    )


class Accounts:
    """Account operations over the Users database."""

    def __init__(self, engine: AsyncEngine, signer: links.LinkSigner, link_base: str) -> None:
        self.engine = engine
        self.signer = signer
        self.link_base = link_base.rstrip("/")

    def _link(self, path: str, token: str) -> str:
        return f"{self.link_base}{path}?{urlencode({'token': token})}"

    async def get(self, user_id: str) -> api.User | None:
        """An account by id."""
        async with self.engine.connect() as conn:
            row = (await conn.execute(sa.select(*_PUBLIC).where(users.c.id == user_id))).first()
        return _user(row) if row else None

    def _verification_mail(self, user_id: str, email: str, name: str) -> mails.Rendered:
        token = self.signer.make(links.VERIFY_EMAIL, user_id, email, links.VERIFY_EMAIL_TTL_SECONDS)
        return mails.render(
            "verify-email",
            {"name": name, "email": email, "link": self._link("/account/verify-email", token)},
        )

    async def resend_verification(self, user_id: str) -> api.Accepted | None:
        """E-mail the address's verification link again (at most once a minute); None if
        there is no such account."""
        async with self.engine.begin() as conn:
            row = (await conn.execute(sa.select(*_PUBLIC).where(users.c.id == user_id))).first()
            if row is None:
                return None
            if row.email_verified:
                return api.Accepted(status=api.ALREADY_VERIFIED)
            if not await self._sent_recently(conn, user_id, "verify-email"):
                await outbox.enqueue(
                    conn,
                    message_key=f"verify-email.{user_id}.{uuid.uuid4().hex}",
                    user_id=user_id,
                    template="verify-email",
                    to=row.email,
                    mail=self._verification_mail(user_id, row.email, row.name),
                )
        return api.Accepted(status="accepted")

    async def register(self, registration: api.Registration) -> api.Registered:
        """Create an account and queue its verification e-mail, in one transaction; with a
        sign-in challenge, the answer carries the ticket that signs the account in."""
        password_hash = await passwords.hash_password(registration.password)
        user_id = uuid.uuid4().hex
        now = datetime.now(UTC)
        mail = self._verification_mail(user_id, registration.email, registration.name)
        try:
            async with self.engine.begin() as conn:
                await conn.execute(
                    users.insert().values(
                        id=user_id,
                        email=registration.email,
                        name=registration.name,
                        password_hash=password_hash,
                        email_verified=False,
                        created_at=now,
                        updated_at=now,
                    )
                )
                await outbox.enqueue(
                    conn,
                    message_key=f"verify-email.{user_id}",
                    user_id=user_id,
                    template="verify-email",
                    to=registration.email,
                    mail=mail,
                )
        except IntegrityError:
            raise Problem(
                409,
                "email-taken",
                "An account with this e-mail address exists.",
                "Sign in, or reset the password if you forgot it.",
                field="email",
            ) from None
        ticket = None
        if registration.signin_challenge is not None:
            ticket = self.signer.make(
                links.SIGN_IN_AFTER_SIGN_UP,
                user_id,
                registration.signin_challenge,
                links.SIGN_IN_AFTER_SIGN_UP_TTL_SECONDS,
            )
        return api.Registered(
            id=user_id, email=registration.email, name=registration.name,
            email_verified=False, created_at=now, signin_ticket=ticket,
        )  # fmt: skip

    async def redeem_signup_ticket(
        self, ticket: str, code_challenge: str
    ) -> api.CredentialsValid | None:
        """The account a sign-up ticket signs in, if it was made for this code challenge and
        has not expired; None otherwise."""
        try:
            claims = self.signer.check(ticket, links.SIGN_IN_AFTER_SIGN_UP)
        except links.InvalidLink:
            return None
        if not hmac.compare_digest(claims.fingerprint, links.fingerprint(code_challenge)):
            return None
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(
                    sa.select(users.c.id, users.c.name, users.c.email_verified).where(
                        users.c.id == claims.user_id
                    )
                )
            ).first()
        if row is None:
            return None
        return api.CredentialsValid(
            user_id=row.id,
            name=row.name,
            email_verified=row.email_verified,
            roles=await roles(self.engine, row.id),
        )

    async def verify_email(self, token: str) -> api.User:
        """Mark the address of the link's account verified (again is fine)."""
        try:
            claims = self.signer.check(token, links.VERIFY_EMAIL)
        except links.InvalidLink:
            raise invalid_link() from None
        async with self.engine.begin() as conn:
            row = (
                await conn.execute(sa.select(*_PUBLIC).where(users.c.id == claims.user_id))
            ).first()
            # The link is for one address: changed since, and it no longer counts.
            if row is None or links.fingerprint(row.email) != claims.fingerprint:
                raise invalid_link()
            if not row.email_verified:
                await conn.execute(
                    users.update()
                    .where(users.c.id == row.id)
                    .values(email_verified=True, updated_at=datetime.now(UTC))
                )
        user = _user(row)
        return user.model_copy(update={"email_verified": True})

    async def request_reset(self, email: str) -> None:
        """Queue a reset e-mail if the address has an account; say nothing either way."""
        async with self.engine.begin() as conn:
            row = (
                await conn.execute(
                    sa.select(users.c.id, users.c.name, users.c.email, users.c.password_hash).where(
                        users.c.email == email
                    )
                )
            ).first()
            if row is None or await self._sent_recently(conn, row.id, "password-reset"):
                return
            token = self.signer.make(
                links.RESET_PASSWORD,
                row.id,
                row.password_hash,
                links.RESET_PASSWORD_TTL_SECONDS,
            )
            mail = mails.render(
                "password-reset",
                {
                    "name": row.name,
                    "email": row.email,
                    "link": self._link("/account/reset-password", token),
                },
            )
            await outbox.enqueue(
                conn,
                message_key=f"password-reset.{uuid.uuid4().hex}",
                user_id=row.id,
                template="password-reset",
                to=row.email,
                mail=mail,
            )

    async def _sent_recently(self, conn: AsyncConnection, user_id: str, template: str) -> bool:
        since = datetime.now(UTC) - timedelta(seconds=ACCOUNT_MAIL_INTERVAL_SECONDS)
        found = await conn.scalar(
            sa.select(sa.func.count())
            .select_from(outbox_table)
            .where(
                outbox_table.c.user_id == user_id,
                outbox_table.c.template == template,
                outbox_table.c.created_at > since,
            )
        )
        return bool(found)

    async def reset_password(self, token: str, password: str) -> None:
        """Set a new password from a reset link; the link then stops working."""
        try:
            claims = self.signer.check(token, links.RESET_PASSWORD)
        except links.InvalidLink:
            raise invalid_link() from None
        async with self.engine.connect() as conn:
            old = await conn.scalar(
                sa.select(users.c.password_hash).where(users.c.id == claims.user_id)
            )
        if old is None or links.fingerprint(old) != claims.fingerprint:
            raise invalid_link()
        new_hash = await passwords.hash_password(password)
        async with self.engine.begin() as conn:
            # Conditional on the old hash: two uses of one link race, one wins.
            result = await conn.execute(
                users.update()
                .where(users.c.id == claims.user_id, users.c.password_hash == old)
                .values(
                    password_hash=new_hash,
                    # Following the link proved the mailbox is theirs.
                    email_verified=True,
                    updated_at=datetime.now(UTC),
                )
            )
        if result.rowcount != 1:
            raise invalid_link()

    async def check_credentials(self, email: str, password: str) -> api.CredentialsValid | None:
        """The account if the password is its password; None otherwise, in the same time."""
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(
                    sa.select(
                        users.c.id, users.c.name, users.c.email_verified, users.c.password_hash
                    ).where(users.c.email == email)
                )
            ).first()
        if row is None:
            await passwords.verify_password(passwords.dummy_hash(), password)
            return None
        if not await passwords.verify_password(row.password_hash, password):
            return None
        if passwords.needs_rehash(row.password_hash):
            new_hash = await passwords.hash_password(password)
            async with self.engine.begin() as conn:
                await conn.execute(
                    users.update()
                    .where(users.c.id == row.id, users.c.password_hash == row.password_hash)
                    .values(password_hash=new_hash)
                )
        return api.CredentialsValid(
            user_id=row.id,
            name=row.name,
            email_verified=row.email_verified,
            roles=await roles(self.engine, row.id),
        )

    async def update_profile(self, user_id: str, update: api.ProfileUpdate) -> api.User | None:
        """Change the fields given; None if there is no such account."""
        changes: dict[str, Any] = update.model_dump(exclude_unset=True, exclude_none=True)
        async with self.engine.begin() as conn:
            if changes:
                await conn.execute(
                    users.update()
                    .where(users.c.id == user_id)
                    .values(**changes, updated_at=datetime.now(UTC))
                )
            row = (await conn.execute(sa.select(*_PUBLIC).where(users.c.id == user_id))).first()
        return _user(row) if row else None


async def roles(engine: AsyncEngine, user_id: str) -> list[api.Role]:
    """An account's roles: traveller, and those granted to it."""
    async with engine.connect() as conn:
        granted = set(
            await conn.scalars(sa.select(user_roles.c.role).where(user_roles.c.user_id == user_id))
        )
    found: list[api.Role] = [api.TRAVELLER]
    if api.OPERATOR in granted:
        found.append(api.OPERATOR)
    return found


async def grant_role(engine: AsyncEngine, email: str, role: api.Role) -> str | None:
    """Give the account with this address a role (again is fine): its id, or None if there
    is no such account. A token carries it from the account's next sign-in."""
    # Reads then writes: SQLite's write lock from the start, or the write may find it taken.
    async with write_transaction(engine) as conn:
        user_id = await conn.scalar(sa.select(users.c.id).where(users.c.email == email))
        if user_id is None or role == api.TRAVELLER:
            return user_id
        held = await conn.scalar(
            sa.select(sa.func.count())
            .select_from(user_roles)
            .where(user_roles.c.user_id == user_id, user_roles.c.role == role)
        )
        if held:
            return str(user_id)
        with contextlib.suppress(IntegrityError):  # granted meanwhile: just as good
            async with conn.begin_nested():
                await conn.execute(
                    user_roles.insert().values(
                        user_id=user_id, role=role, granted_at=datetime.now(UTC)
                    )
                )
    return str(user_id)
