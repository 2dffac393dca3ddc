"""Payload encryption: every workflow and activity payload leaves the process encrypted.

Booking requests carry guest names and user ids, e-mail data carries addresses of hotels
and confirmation codes; the Temporal server (and anyone reading its database or its UI)
sees only ciphertext. Each payload is the original payload, serialized and sealed with
AES-256-GCM under the current key; its metadata names the key (`encryption-key-id`), so
keys rotate: put a new key first in `TEMPORAL_PAYLOAD_KEYS` and keep the old ones after it
for as long as histories encrypted with them may be read.

A payload without the encryption marker passes through as it is: histories written before
encryption (the committed test histories among them) keep replaying.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping, Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from temporalio.api.common.v1 import Payload
from temporalio.converter import DataConverter, PayloadCodec

from services.common.payload_keys import parse_keys
from temporal.converter import DATA_CONVERTER
from temporal.queues import CODEC_COMPONENT as CODEC_COMPONENT
from temporal.queues import CODEC_PATH as CODEC_PATH

ENCODING = b"binary/encrypted"
KEY_ID = "encryption-key-id"
_NONCE_BYTES = 12
_TAG_BYTES = 16


class PayloadKeyError(ValueError):
    """A payload cannot be decrypted: unknown key, or not what the key sealed."""


class EncryptionCodec(PayloadCodec):
    """Seals payloads under the first key; opens them under whichever key they name."""

    def __init__(self, keys: Mapping[str, bytes]) -> None:
        if not keys:
            raise ValueError("an encryption codec needs a key")
        self.current = next(iter(keys))
        self._ciphers = {key_id: AESGCM(key) for key_id, key in keys.items()}

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        """Each payload sealed whole (metadata and data) under the current key."""
        cipher = self._ciphers[self.current]
        sealed = []
        for payload in payloads:
            nonce = os.urandom(_NONCE_BYTES)
            data = nonce + cipher.encrypt(nonce, payload.SerializeToString(), None)
            metadata = {"encoding": ENCODING, KEY_ID: self.current.encode()}
            sealed.append(Payload(metadata=metadata, data=data))
        return sealed

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        """Each sealed payload opened; any other passes through."""
        return [self._open(payload) for payload in payloads]

    def _open(self, payload: Payload) -> Payload:
        if payload.metadata.get("encoding") != ENCODING:
            return payload
        key_id = payload.metadata.get(KEY_ID, b"").decode(errors="replace")
        cipher = self._ciphers.get(key_id)
        if cipher is None:
            raise PayloadKeyError(
                f"payload encrypted with key {key_id!r}, which TEMPORAL_PAYLOAD_KEYS lacks"
            )
        # Shorter than a nonce and a tag, it was never sealed (and AES-GCM refuses the nonce).
        if len(payload.data) < _NONCE_BYTES + _TAG_BYTES:
            raise PayloadKeyError(f"payload is too short to have been sealed with {key_id!r}")
        nonce, sealed = payload.data[:_NONCE_BYTES], payload.data[_NONCE_BYTES:]
        try:
            return Payload.FromString(cipher.decrypt(nonce, sealed, None))
        except InvalidTag:
            raise PayloadKeyError(f"payload does not open under key {key_id!r}") from None


def data_converter(payload_keys: str | None) -> DataConverter:
    """staysaga's data converter, encrypting payloads when keys are configured."""
    if not payload_keys:
        return DATA_CONVERTER
    return dataclasses.replace(
        DATA_CONVERTER, payload_codec=EncryptionCodec(parse_keys(payload_keys))
    )
