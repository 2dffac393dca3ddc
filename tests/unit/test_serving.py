"""How `staysaga serve` runs a service: its garbage-collector settings, and whose
forwarded addresses it believes."""

import subprocess
import sys

import httpx
import uvicorn

from components.settings import load_settings
from services.common.app import GC_YOUNG_THRESHOLD
from staysaga.cli import proxy_options

PROBE = """
import gc
from services.common.app import settle_for_serving
import services.search.app
before = len(gc.get_objects())
settle_for_serving()
print(before, len(gc.get_objects()), gc.get_freeze_count(), gc.get_threshold()[0])
"""


def test_a_server_hides_its_loaded_code_from_the_collector_and_collects_young_less_often():
    done = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, check=True, timeout=60
    )
    before, after, frozen, young = (int(x) for x in done.stdout.split())
    assert before > 50_000  # the modules and their classes, functions and dicts
    assert after < before / 20 and frozen > before * 0.9
    assert young == GC_YOUNG_THRESHOLD > 700  # CPython's default


async def _peer_seen(env: dict[str, str], peer: str, forwarded_for: str) -> str:
    """The client address an app served by `staysaga serve`'s uvicorn options sees."""

    async def echo(scope, receive, send):  # type: ignore[no-untyped-def]
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": scope["client"][0].encode()})

    config = uvicorn.Config(echo, **proxy_options(load_settings(env)))
    config.load()
    transport = httpx.ASGITransport(app=config.loaded_app, client=(peer, 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://service") as client:
        response = await client.get("/", headers={"X-Forwarded-For": forwarded_for})
    return response.text


async def test_a_forwarded_address_is_ignored_unless_a_trusted_proxy_sends_it():
    assert await _peer_seen({}, "127.0.0.1", "203.0.113.9") == "127.0.0.1"
    trusted = {"STAYSAGA_TRUSTED_PROXIES": "10.0.0.0/8"}
    assert await _peer_seen(trusted, "127.0.0.1", "203.0.113.9") == "127.0.0.1"
    assert await _peer_seen(trusted, "10.1.2.3", "203.0.113.9") == "203.0.113.9"
