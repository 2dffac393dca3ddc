"""The Temporal client factory: address, namespace, TLS or API key from the settings."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from temporalio.client import Client
from temporalio.service import TLSConfig

from services.common.settings import Settings
from temporal.converter import DATA_CONVERTER


def _tls(settings: Settings) -> TLSConfig | bool:
    cert, key, ca = (
        settings["TEMPORAL_TLS_CERT"],
        settings["TEMPORAL_TLS_KEY"],
        settings["TEMPORAL_TLS_CA"],
    )
    if cert or ca:
        return TLSConfig(
            client_cert=Path(cert).read_bytes() if cert else None,
            client_private_key=Path(key).read_bytes() if key else None,
            server_root_ca_cert=Path(ca).read_bytes() if ca else None,
        )
    return bool(settings["TEMPORAL_API_KEY"])


async def connect(settings: Settings) -> Client:
    """A client for the configured Temporal service, with staysaga's data converter."""
    return await Client.connect(
        settings["TEMPORAL_ADDRESS"],
        namespace=settings["TEMPORAL_NAMESPACE"],
        api_key=settings["TEMPORAL_API_KEY"],
        tls=_tls(settings),
        data_converter=DATA_CONVERTER,
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
