"""The Temporal client factory: address, namespace, TLS or API key from the settings."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from temporalio.api.operatorservice.v1 import (
    AddSearchAttributesRequest,
    ListSearchAttributesRequest,
)
from temporalio.client import Client, Interceptor
from temporalio.service import RPCError, RPCStatusCode, TLSConfig

from services.common import tracing
from services.common.settings import Settings
from temporal.codec import data_converter
from temporal.names import SEARCH_ATTRIBUTE_KEYS


def _tls(settings: Settings) -> TLSConfig | bool:
    cert, key, ca = (
        settings.temporal.tls_cert,
        settings.temporal.tls_key,
        settings.temporal.tls_ca,
    )
    if cert or ca:
        return TLSConfig(
            client_cert=Path(cert).read_bytes() if cert else None,
            client_private_key=Path(key).read_bytes() if key else None,
            server_root_ca_cert=Path(ca).read_bytes() if ca else None,
        )
    return bool(settings.temporal.api_key)


def interceptors() -> list[Interceptor]:
    """With tracing on, temporalio's TracingInterceptor: it starts spans for workflows,
    activities, updates and queries, and carries the trace in Temporal headers; workers
    built on the client inherit it."""
    tracer = tracing.active_tracer()
    if tracer is None:
        return []
    from temporalio.contrib.opentelemetry import TracingInterceptor

    return [TracingInterceptor(tracer)]


async def connect(settings: Settings) -> Client:
    """A client for the configured Temporal service, with staysaga's data converter
    (encrypting payloads when TEMPORAL_PAYLOAD_KEYS is set) and, with tracing on, its
    tracing interceptor."""
    return await Client.connect(
        settings.temporal.address,
        namespace=settings.temporal.namespace,
        api_key=settings.temporal.api_key,
        tls=_tls(settings),
        data_converter=data_converter(settings.temporal.payload_keys),
        interceptors=interceptors(),
    )


async def wait_for_temporal(settings: Settings, timeout: float = 60.0) -> Client:
    """Connect, retrying until the server answers or `timeout` seconds pass."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            client = await connect(settings)
            await client.service_client.check_health()
            return client
        except Exception:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.2)


async def ensure_search_attributes(client: Client) -> None:
    """Register staysaga's custom search attributes in the client's namespace.

    The dev server gets them from `--search-attribute` flags; a cluster (or the
    time-skipping test server) gets them here. Registering existing ones is harmless.
    """
    wanted = {key.name: key.indexed_value_type for key in SEARCH_ATTRIBUTE_KEYS}
    try:
        known = await client.operator_service.list_search_attributes(
            ListSearchAttributesRequest(namespace=client.namespace)
        )
        missing = {k: v for k, v in wanted.items() if k not in known.custom_attributes}
    except RPCError as error:
        # The time-skipping test server can add search attributes but not list them.
        if error.status != RPCStatusCode.UNIMPLEMENTED:
            raise
        missing = wanted
    if missing:
        await client.operator_service.add_search_attributes(
            AddSearchAttributesRequest(
                namespace=client.namespace,
                search_attributes=missing,  # type: ignore[arg-type]
            )
        )
