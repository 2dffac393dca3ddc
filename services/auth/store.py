"""What the auth server remembers: authorization codes, refresh-token families, revocations.

Every single-use step is an atomic conditional UPDATE (checked by row count), so two
concurrent redemptions of one code or one refresh token cannot both succeed, on SQLite
or PostgreSQL.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from services.auth.keys import ACCESS_TOKEN_TTL, utc
from services.auth.tables import (
    authorization_codes,
    oidc_profiles,
    refresh_tokens,
    revoked_access_tokens,
)

CODE_TTL = timedelta(minutes=1)
REFRESH_TOKEN_TTL = timedelta(days=14)


def digest(secret: str) -> str:
    """The stored form of a code or refresh token."""
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True)
class AuthorizationCode:
    """A redeemed authorization code, as authlib's grant needs it."""

    client_id: str
    user_id: str
    redirect_uri: str
    scope: str
    audiences: tuple[str, ...]
    code_challenge: str
    code_challenge_method: str
    code_hash: str = ""
    nonce: str | None = None
    auth_time: datetime | None = None

    def get_redirect_uri(self) -> str:
        """The redirect URI the code was issued for."""
        return self.redirect_uri

    def get_scope(self) -> str:
        """The scopes granted."""
        return self.scope

    def get_nonce(self) -> str | None:
        """The OpenID Connect client's nonce, for its ID token."""
        return self.nonce

    def get_auth_time(self) -> int | None:
        """When the person signed in (the ID token's `auth_time`)."""
        return int(self.auth_time.timestamp()) if self.auth_time else None

    def get_acr(self) -> str | None:
        """No authentication context classes: a password sign-in."""
        return None

    def get_amr(self) -> list[str] | None:
        """Not stated."""
        return None


@dataclass(frozen=True)
class Profile:
    """What an ID token or userinfo may say of a person (each claim only for its scope)."""

    name: str
    email: str
    email_verified: bool


@dataclass(frozen=True)
class RefreshToken:
    """A stored refresh token (authlib's TokenMixin)."""

    token_hash: str
    family_id: str
    client_id: str
    user_id: str
    scope: str
    audiences: tuple[str, ...]
    issued_at: datetime
    expires_at: datetime
    rotated_at: datetime | None
    revoked_at: datetime | None

    def check_client(self, client: object) -> bool:
        """Only the client it was issued to may use or revoke it."""
        return getattr(client, "client_id", None) == self.client_id

    def get_scope(self) -> str:
        """The scopes it may renew."""
        return self.scope

    def get_expires_in(self) -> int:
        """Its lifetime in seconds."""
        return int((self.expires_at - self.issued_at).total_seconds())

    def is_expired(self) -> bool:
        """Past its expiry."""
        from services.auth.keys import now_utc

        return self.expires_at <= now_utc()

    def is_revoked(self) -> bool:
        """Used already (rotated) or revoked."""
        return self.rotated_at is not None or self.revoked_at is not None


async def save_code(
    engine: AsyncEngine, code: str, found: AuthorizationCode, now: datetime
) -> None:
    """Remember an authorization code for CODE_TTL."""
    async with engine.begin() as conn:
        await conn.execute(
            authorization_codes.insert().values(
                code_hash=digest(code),
                client_id=found.client_id,
                user_id=found.user_id,
                redirect_uri=found.redirect_uri,
                scope=found.scope,
                audiences=" ".join(found.audiences),
                code_challenge=found.code_challenge,
                code_challenge_method=found.code_challenge_method,
                nonce=found.nonce,
                auth_time=found.auth_time,
                expires_at=now + CODE_TTL,
            )
        )


async def redeem_code(
    engine: AsyncEngine, code: str, client_id: str, now: datetime
) -> AuthorizationCode | None:
    """Mark a code used and return it, unless it is unknown, expired, used, or not theirs."""
    table = authorization_codes
    async with engine.begin() as conn:
        result = await conn.execute(
            table.update()
            .where(
                table.c.code_hash == digest(code),
                table.c.client_id == client_id,
                table.c.used_at.is_(None),
                table.c.expires_at > now,
            )
            .values(used_at=now)
        )
        if result.rowcount != 1:
            return None
        row = (await conn.execute(table.select().where(table.c.code_hash == digest(code)))).one()
    return AuthorizationCode(
        row.client_id,
        row.user_id,
        row.redirect_uri,
        row.scope,
        tuple(row.audiences.split()),
        row.code_challenge,
        row.code_challenge_method,
        row.code_hash,
        row.nonce,
        utc(row.auth_time) if row.auth_time else None,
    )


async def nonce_used(engine: AsyncEngine, client_id: str, nonce: str) -> bool:
    """Whether a code of this client was already issued for this nonce (a replay)."""
    table = authorization_codes
    async with engine.connect() as conn:
        found = await conn.execute(
            sa.select(table.c.code_hash).where(
                table.c.client_id == client_id, table.c.nonce == nonce
            )
        )
        return found.first() is not None


async def save_profile(engine: AsyncEngine, user_id: str, profile: Profile, now: datetime) -> None:
    """Remember what Users said of a person at an OpenID Connect sign-in."""
    values = {
        "name": profile.name,
        "email": profile.email,
        "email_verified": profile.email_verified,
        "updated_at": now,
    }
    update = oidc_profiles.update().where(oidc_profiles.c.user_id == user_id).values(**values)
    try:
        async with engine.begin() as conn:
            if (await conn.execute(update)).rowcount == 0:
                await conn.execute(oidc_profiles.insert().values(user_id=user_id, **values))
    except sa.exc.IntegrityError:
        # The same person's sign-in in another tab inserted first: theirs is as fresh.
        async with engine.begin() as conn:
            await conn.execute(update)


async def load_profile(engine: AsyncEngine, user_id: str) -> Profile | None:
    """What the last OpenID Connect sign-in said of a person, if there was one."""
    async with engine.connect() as conn:
        row = (
            await conn.execute(oidc_profiles.select().where(oidc_profiles.c.user_id == user_id))
        ).one_or_none()
    if row is None:
        return None
    return Profile(row.name, row.email, bool(row.email_verified))


def issued_from_code(code_hash: str) -> tuple[str, str]:
    """The refresh-token family id and the access token's `jti` a code is redeemed for.

    Derived from the code (one-way), so that a replay of the code finds what it was
    redeemed for, and nothing more need be stored (RFC 6749 section 4.1.2).
    """
    derived = hashlib.sha256(f"issued-from:{code_hash}".encode()).digest()
    return str(uuid.UUID(bytes=derived[:16])), derived[16:].hex()


async def revoke_issued_from(engine: AsyncEngine, code: str, client_id: str) -> bool:
    """On a replay of a used code: revoke the tokens it was redeemed for; whether it was one.

    The access token is recorded revoked even if its exchange is still under way, which
    then revokes its refresh token as soon as it is stored (`save_refresh_token`'s caller).
    """
    table = authorization_codes
    async with engine.connect() as conn:
        row = (
            await conn.execute(
                sa.select(table.c.code_hash, table.c.used_at).where(
                    table.c.code_hash == digest(code),
                    table.c.client_id == client_id,
                    table.c.used_at.is_not(None),
                )
            )
        ).first()
    if row is None:
        return False
    family_id, jti = issued_from_code(row.code_hash)
    used_at = utc(row.used_at)
    await revoke_family(engine, family_id, used_at)
    await revoke_access_token(engine, jti, used_at + ACCESS_TOKEN_TTL)
    return True


async def purge_expired(engine: AsyncEngine, now: datetime) -> None:
    """Forget codes, refresh tokens and revocations past their lifetime (at start-up)."""
    async with engine.begin() as conn:
        for table in (authorization_codes, refresh_tokens, revoked_access_tokens):
            await conn.execute(table.delete().where(table.c.expires_at <= now))


async def save_refresh_token(
    engine: AsyncEngine,
    token: str,
    *,
    family_id: str,
    client_id: str,
    user_id: str,
    scope: str,
    audiences: tuple[str, ...],
    now: datetime,
) -> None:
    """Remember a new refresh token of a family."""
    async with engine.begin() as conn:
        await conn.execute(
            refresh_tokens.insert().values(
                token_hash=digest(token),
                family_id=family_id,
                client_id=client_id,
                user_id=user_id,
                scope=scope,
                audiences=" ".join(audiences),
                issued_at=now,
                expires_at=now + REFRESH_TOKEN_TTL,
            )
        )


async def find_refresh_token(engine: AsyncEngine, token: str) -> RefreshToken | None:
    """The stored refresh token, whatever its state."""
    async with engine.connect() as conn:
        row = (
            await conn.execute(
                refresh_tokens.select().where(refresh_tokens.c.token_hash == digest(token))
            )
        ).one_or_none()
    if row is None:
        return None
    return RefreshToken(
        row.token_hash,
        row.family_id,
        row.client_id,
        row.user_id,
        row.scope,
        tuple(row.audiences.split()),
        utc(row.issued_at),
        utc(row.expires_at),
        utc(row.rotated_at) if row.rotated_at else None,
        utc(row.revoked_at) if row.revoked_at else None,
    )


async def mark_rotated(engine: AsyncEngine, token_hash: str, now: datetime) -> bool:
    """Use up a refresh token; False if it was already used or revoked (a replay)."""
    table = refresh_tokens
    async with engine.begin() as conn:
        result = await conn.execute(
            table.update()
            .where(
                table.c.token_hash == token_hash,
                table.c.rotated_at.is_(None),
                table.c.revoked_at.is_(None),
            )
            .values(rotated_at=now)
        )
    return result.rowcount == 1


async def revoke_family(engine: AsyncEngine, family_id: str, now: datetime) -> None:
    """Revoke every refresh token descended from one sign-in."""
    table = refresh_tokens
    async with engine.begin() as conn:
        await conn.execute(
            table.update()
            .where(table.c.family_id == family_id, table.c.revoked_at.is_(None))
            .values(revoked_at=now)
        )


async def revoke_access_token(engine: AsyncEngine, jti: str, expires_at: datetime) -> None:
    """Record an access token as revoked (seen by introspection until it expires)."""
    async with engine.begin() as conn:
        exists = await conn.execute(
            sa.select(revoked_access_tokens.c.jti).where(revoked_access_tokens.c.jti == jti)
        )
        if exists.first() is None:
            await conn.execute(
                revoked_access_tokens.insert().values(jti=jti, expires_at=expires_at)
            )


async def access_token_revoked(engine: AsyncEngine, jti: str) -> bool:
    """Whether an access token was revoked."""
    async with engine.connect() as conn:
        found = await conn.execute(
            sa.select(revoked_access_tokens.c.jti).where(revoked_access_tokens.c.jti == jti)
        )
        return found.first() is not None
