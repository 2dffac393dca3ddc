"""Password hashing with argon2id (argon2-cffi), off the event loop.

Parameters: OWASP's Password Storage Cheat Sheet minimum for argon2id (19 MiB of memory,
2 iterations, 1 lane). A hash made with older parameters is upgraded at the next
successful check.
"""

from __future__ import annotations

import asyncio
import secrets
from functools import cache

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

MEMORY_COST_KIB = 19 * 1024
TIME_COST = 2
PARALLELISM = 1
HASH_LENGTH = 32
SALT_LENGTH = 16

HASHER = PasswordHasher(
    time_cost=TIME_COST,
    memory_cost=MEMORY_COST_KIB,
    parallelism=PARALLELISM,
    hash_len=HASH_LENGTH,
    salt_len=SALT_LENGTH,
    type=Type.ID,
)


async def hash_password(password: str) -> str:
    """The argon2id PHC string of a password (computed on a worker thread)."""
    return await asyncio.to_thread(HASHER.hash, password)


def _verify(stored_hash: str, password: str) -> bool:
    try:
        return HASHER.verify(stored_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


async def verify_password(stored_hash: str, password: str) -> bool:
    """Whether the password matches the hash (computed on a worker thread)."""
    return await asyncio.to_thread(_verify, stored_hash, password)


def needs_rehash(stored_hash: str) -> bool:
    """Whether a hash was made with other parameters than today's."""
    return HASHER.check_needs_rehash(stored_hash)


@cache
def dummy_hash() -> str:
    """A hash of a random password: checked against for unknown e-mails, so that an
    unknown address costs as much time as a wrong password and timing reveals nothing."""
    return HASHER.hash(secrets.token_urlsafe(24))
