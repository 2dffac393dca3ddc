"""A booking whose payloads are encrypted: the server keeps only ciphertext, the saga runs
as before, and its history replays with the keys (and only with them)."""

from __future__ import annotations

from types import SimpleNamespace

from google.protobuf.message import Message
from temporalio.api.common.v1 import Payload
from temporalio.client import Client

from services.common.payload_keys import new_key_entry
from temporal.codec import ENCODING, data_converter
from tests.workflows.standins import World
from tests.workflows.test_booking import awaiting_payment, bookings, pay
from tests.workflows.test_operator_view import _request
from web import bookings as web_bookings
from workflows.models import BookingState
from workflows.replay import replay


async def test_an_encrypted_booking_runs_keeps_no_name_on_the_server_and_replays(
    dev_server_env,
):
    keys = new_key_entry("k1")
    config = dev_server_env.client.config()
    config["data_converter"] = data_converter(keys)
    client = Client(**config)
    env = SimpleNamespace(client=client)
    request = _request()
    async with bookings(env, World()) as running:  # type: ignore[arg-type]
        handle = await web_bookings.start(client, request)
        running.handles.append(handle)
        await awaiting_payment(handle)
        view = await pay(handle)
        assert view.state == BookingState.CONFIRMED
        history = await handle.fetch_history()
    started = history.events[0].workflow_execution_started_event_attributes
    (given,) = started.input.payloads
    assert given.metadata["encoding"] == ENCODING
    # Every payload the server keeps is sealed (search attributes are indexes, not payloads
    # of the saga, and hold no name).
    sealed = [
        payload
        for event in history.events
        for field in event.DESCRIPTOR.fields
        if field.name.endswith("_attributes") and event.HasField(field.name)
        for payload in _payloads(getattr(event, field.name))
    ]
    assert sealed and all(p.metadata["encoding"] == ENCODING for p in sealed)
    assert not any(request.guest_name.encode() in p.SerializeToString() for p in sealed)

    (with_keys,) = await replay([history], data_converter(keys))
    assert with_keys.ok, with_keys.error
    (without,) = await replay([history])
    assert not without.ok


def _payloads(message: Message) -> list[Payload]:
    """The saga's payloads inside an event's attributes (inputs, results, update bodies)."""
    found: list[Payload] = []
    for field, value in message.ListFields():
        if field.message_type is None:
            continue
        values = value if field.is_repeated else [value]
        for item in values:
            if isinstance(item, Payload):
                found.append(item)
            elif isinstance(item, Message) and field.message_type.name != "SearchAttributes":
                found += _payloads(item)
    return found
