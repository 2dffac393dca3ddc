"""The keys that encrypt workflow and activity payloads (`TEMPORAL_PAYLOAD_KEYS`): their
text form, read and made. The codec that uses them is `temporal/codec.py`."""

from __future__ import annotations

import base64
import binascii
import re
import secrets

_KEY_ID_PATTERN = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


def parse_keys(raw: str) -> dict[str, bytes]:
    """`id:base64key,id:base64key` (the first encrypts; all decrypt), each key 32 bytes."""
    keys: dict[str, bytes] = {}
    for item in (part.strip() for part in raw.split(",")):
        if not item:
            continue
        key_id, sep, encoded = item.partition(":")
        if not sep or not _KEY_ID_PATTERN.fullmatch(key_id):
            raise ValueError(
                "each key must be <id>:<base64 of 32 bytes> (ids: letters, digits, ._-)"
            )
        try:
            key = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
        except (binascii.Error, ValueError):
            raise ValueError(f"key {key_id!r} is not base64") from None
        if len(key) != 32:
            raise ValueError(f"key {key_id!r} must be 32 bytes (AES-256), not {len(key)}")
        if key_id in keys:
            raise ValueError(f"key id {key_id!r} appears twice")
        keys[key_id] = key
    if not keys:
        raise ValueError("give at least one key")
    return keys


def new_key_entry(key_id: str | None = None) -> str:
    """A fresh `id:key` entry for `TEMPORAL_PAYLOAD_KEYS`."""
    key = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode().rstrip("=")
    return f"{key_id or 'k' + secrets.token_hex(4)}:{key}"
