"""How `staysaga serve` runs a service: its garbage-collector settings, and whose
forwarded addresses it believes."""

import asyncio
import os
import signal
import subprocess
import sys

import httpx
import uvicorn

from components.settings import load_settings
from services.common.app import GC_YOUNG_THRESHOLD
from staysaga.children import port_is_free
from staysaga.cli import proxy_options
from tests.support.harness import eventually, free_port
from tests.support.money import PUBLISHABLE_KEY, SECRET_KEY

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


# Ten sign-ups at once, three times: argon2id's 19 MiB of working memory a hash, each on a
# worker thread; then the process's resident memory, in MB, before and after.
HASHING = """
import asyncio, sys
from services.common.app import settle_for_serving
from services.users.passwords import hash_password, verify_password

def resident():
    return int(open("/proc/self/statm").read().split()[1]) * 4096 // 2**20

async def main():
    if sys.argv[1] == "settled":
        settle_for_serving()
    before = resident()
    for _ in range(3):
        hashes = await asyncio.gather(*(hash_password(f"secret-{i}!") for i in range(10)))
        await asyncio.gather(*(verify_password(h, "wrong") for h in hashes))
    print(before, resident())

asyncio.run(main())
"""


def test_a_server_gives_the_memory_of_big_transient_blocks_back():
    def grown(mode: str) -> int:
        done = subprocess.run(
            [sys.executable, "-c", HASHING, mode],
            capture_output=True,
            text=True,
            check=True,
            timeout=120,
        )
        before, after = (int(x) for x in done.stdout.split())
        return after - before

    # The allocator's default keeps the hashes' memory (~110 MB here); a server does not.
    assert grown("settled") < 30 < 60 < grown("default")


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


async def test_one_process_serves_the_bank_and_the_mail_sink_each_on_its_port_and_stops_whole(
    tmp_path,
):
    ports = {name: free_port() for name in ("BANK_PORT", "MAILSINK_PORT", "MAILSINK_SMTP_PORT")}
    env = {
        **os.environ,
        **{name: str(port) for name, port in ports.items()},
        "STAYSAGA_VAR_DIR": str(tmp_path),
        "BANK_SECRET_KEY": SECRET_KEY,
        "BANK_PUBLISHABLE_KEY": PUBLISHABLE_KEY,
    }
    server = await asyncio.create_subprocess_exec(
        *[sys.executable, "-m", "staysaga.cli", "serve", "bank", "mailsink"],
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        async with httpx.AsyncClient(timeout=2.0) as client:

            async def both_ready() -> None:
                for name in ("BANK_PORT", "MAILSINK_PORT"):
                    url = f"http://127.0.0.1:{ports[name]}/readyz"
                    assert (await client.get(url)).status_code == 200
                assert server.returncode is None

            await eventually(both_ready, timeout=60)
            inbox = await client.get(f"http://127.0.0.1:{ports['MAILSINK_PORT']}/")
            assert inbox.status_code == 200 and "html" in inbox.headers["content-type"]
        server.send_signal(signal.SIGTERM)
        await asyncio.wait_for(server.wait(), timeout=30)
        for port in ports.values():
            assert port_is_free("127.0.0.1", port)
    finally:
        if server.returncode is None:
            server.kill()
            await server.wait()
