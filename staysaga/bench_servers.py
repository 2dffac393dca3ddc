"""The search benchmark's processes: the stand-ins it serves, and starting, awaiting and
stopping each child on its own loopback port.
"""

from __future__ import annotations

import contextlib
import os
import resource
import signal
import socket
import subprocess
import time
import urllib.parse
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from services.auth import api as auth_api

BENCH_CLIENT_ID = "search"
BENCH_CLIENT_SECRET = "bench-only-secret"  # noqa: S105 - a throwaway local stand-in
READY_TIMEOUT_SECONDS = 120.0


def free_port() -> int:
    """A loopback port nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def issuer_app() -> Any:
    """A stand-in authorization server: its JWKS and a client-credentials token endpoint."""
    from joserfc import jwt
    from joserfc.jwk import ECKey, KeySet
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    issuer = os.environ["BENCH_ISSUER"]
    key = ECKey.generate_key("P-256", parameters={"kid": uuid.uuid4().hex[:8], "alg": "ES256"})
    jwks = KeySet([key]).as_dict(private=False)

    async def keys(_request: Request) -> JSONResponse:
        return JSONResponse(jwks)

    async def token(request: Request) -> JSONResponse:
        form = {k: v[0] for k, v in urllib.parse.parse_qs((await request.body()).decode()).items()}
        now = int(time.time())
        claims = {
            "iss": issuer,
            "aud": str(form.get("resource", "")),
            "sub": BENCH_CLIENT_ID,
            "client_id": BENCH_CLIENT_ID,
            "scope": str(form.get("scope", "")),
            "iat": now,
            "exp": now + 3600,
            "jti": uuid.uuid4().hex,
        }
        header = {"alg": "ES256", "typ": "at+jwt", "kid": key.kid}
        access = jwt.encode(header, claims, key, algorithms=["ES256"])
        return JSONResponse({"access_token": access, "token_type": "Bearer", "expires_in": 3600})

    return Starlette(
        routes=[
            Route(auth_api.JWKS_PATH, keys),
            Route(auth_api.TOKEN_PATH, token, methods=["POST"]),
        ]
    )


def hello_app() -> Any:
    """The ceiling: the least a Starlette JSON endpoint can do."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    async def hello(_request: Request) -> JSONResponse:
        return JSONResponse({"hello": "world"})

    return Starlette(routes=[Route("/hello", hello)])


def serve(app_name: str, port: int) -> None:
    """Serve a stand-in (`issuer` or `hello`) on a loopback port, as `staysaga serve` would."""
    import uvicorn

    from services.common.app import settle_for_serving

    app = {"issuer": issuer_app, "hello": hello_app}[app_name]()
    # The same options, and the same collector settings, as `staysaga serve`.
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_config=None, access_log=False, server_header=False
    )
    settle_for_serving()
    uvicorn.Server(config).run()


@dataclass
class Process:
    """A child process of the benchmark."""

    name: str
    popen: subprocess.Popen[bytes]
    url: str


def spawn(name: str, argv: list[str], env: dict[str, str], url: str) -> Process:
    """Start a child in a session of its own (so it is stopped with its children)."""
    popen = subprocess.Popen(  # noqa: S603 - our own interpreter and module
        argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True
    )
    return Process(name, popen, url)


def wait_ready(process: Process, path: str) -> None:
    """Wait until the child answers 200 at `path`; raise if it exits or takes too long."""
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    while True:
        if process.popen.poll() is not None:
            error = (
                process.popen.stderr.read().decode(errors="replace") if process.popen.stderr else ""
            )
            raise RuntimeError(f"{process.name} exited with {process.popen.returncode}:\n{error}")
        try:
            if httpx.get(process.url + path, timeout=2.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{process.name} did not answer {path} in time")
        time.sleep(0.1)


def stop(processes: Sequence[Process]) -> None:
    """Stop the children, newest first: SIGTERM, then SIGKILL after 10 s."""
    for process in reversed(processes):
        if process.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.popen.pid, signal.SIGTERM)
    for process in reversed(processes):
        try:
            process.popen.wait(timeout=10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.popen.pid, signal.SIGKILL)
            process.popen.wait()


def children_cpu() -> float:
    """CPU time (user + system) the finished children of this process have used."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime
