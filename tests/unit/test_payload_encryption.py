"""Payload encryption: sealed under the first key, opened under any, rotated, refused when
tampered with or sealed under a key this process lacks; old plain payloads pass through."""

from __future__ import annotations

import base64

import pytest
from temporalio.api.common.v1 import Payload

from components.settings import load_settings
from services.common.payload_keys import new_key_entry, parse_keys
from services.common.settings import SettingsError
from temporal.codec import ENCODING, KEY_ID, EncryptionCodec, PayloadKeyError, data_converter
from temporal.converter import DATA_CONVERTER
from workflows.models import BookingRequest

PLAIN = Payload(metadata={"encoding": b"json/plain"}, data=b'{"guest_name":"Ada Lovelace"}')


def _codec(*entries: str) -> EncryptionCodec:
    return EncryptionCodec(parse_keys(",".join(entries)))


async def test_a_sealed_payload_hides_everything_and_opens_back():
    codec = _codec(new_key_entry("k1"))
    (sealed,) = await codec.encode([PLAIN])
    assert sealed.metadata["encoding"] == ENCODING and sealed.metadata[KEY_ID] == b"k1"
    assert b"Ada" not in sealed.SerializeToString()
    assert await codec.decode([sealed]) == [PLAIN]


async def test_keys_rotate_new_first_old_still_open():
    old, new = new_key_entry("k1"), new_key_entry("k2")
    (sealed_before,) = await _codec(old).encode([PLAIN])
    rotated = _codec(new, old)
    (sealed_after,) = await rotated.encode([PLAIN])
    assert sealed_after.metadata[KEY_ID] == b"k2"
    assert await rotated.decode([sealed_before, sealed_after]) == [PLAIN, PLAIN]


async def test_a_payload_under_a_missing_key_or_tampered_with_is_refused():
    (sealed,) = await _codec(new_key_entry("k1")).encode([PLAIN])
    with pytest.raises(PayloadKeyError, match="'k1'"):
        await _codec(new_key_entry("k2")).decode([sealed])
    tampered = Payload(metadata=sealed.metadata, data=sealed.data[:-1] + b"\0")
    other_k1 = _codec(new_key_entry("k1"))
    with pytest.raises(PayloadKeyError, match="does not open"):
        await other_k1.decode([tampered])


async def test_plain_payloads_of_older_histories_pass_through():
    assert await _codec(new_key_entry("k1")).decode([PLAIN]) == [PLAIN]


async def test_the_converter_encrypts_only_with_keys():
    assert data_converter(None) is DATA_CONVERTER
    converter = data_converter(new_key_entry("k1"))
    request = BookingRequest(
        booking_id="b1",
        user_id="u1",
        hotel_id=1,
        room_type_id=2,
        check_in="2027-01-01",
        check_out="2027-01-02",
        guests=1,
        guest_name="Ada Lovelace",
    )
    (encoded,) = await converter.encode([request])
    assert b"Ada" not in encoded.SerializeToString()
    (decoded,) = await converter.decode([encoded], [BookingRequest])
    assert decoded == request


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("k1", "<id>:<base64 of 32 bytes>"),
        ("k1:" + base64.urlsafe_b64encode(b"short").decode(), "must be 32 bytes"),
        (f"{new_key_entry('k1')},{new_key_entry('k1')}", "appears twice"),
    ],
    # Named by the message: a random key in a test's id differs between parallel workers.
    ids=["no-key", "short-key", "same-id-twice"],
)
def test_bad_payload_keys_are_refused_naming_the_variable(raw, message):
    with pytest.raises(SettingsError) as caught:
        load_settings({"TEMPORAL_PAYLOAD_KEYS": raw})
    assert caught.value.variable == "TEMPORAL_PAYLOAD_KEYS"
    assert message in str(caught.value)
