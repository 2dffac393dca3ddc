"""Helpers the tests share: in-process apps, free ports, polling with a deadline."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import httpx
from starlette.applications import Starlette
from temporalio.testing import ActivityEnvironment

from components.settings import load_settings
from services.common.settings import Settings
from staysaga.stackprocess import free_port as free_port  # tests import it from here

T = TypeVar("T")


def settings_for(var_dir: Path, env: dict[str, str] | None = None) -> Settings:
    """Settings for a test: state under `var_dir`, anything else from `env`."""
    return load_settings({"STAYSAGA_VAR_DIR": str(var_dir), **(env or {})})


@contextlib.asynccontextmanager
async def running_app(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    """Run an app's lifespan (migrations included) and give an in-process HTTP client."""
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield client


async def eventually(
    check: Callable[[], Awaitable[T]], timeout: float = 30.0, interval: float = 0.1
) -> T:
    """Retry `check` until it stops raising AssertionError (or any error) or time runs out."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return await check()
        except Exception:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(interval)


def problem_field(response: httpx.Response) -> Any:
    """The `field` of a problem response, after checking it is one."""
    assert response.headers["content-type"].startswith("application/problem+json"), response.text
    return response.json().get("field")


def activity_environment(
    start_to_close: timedelta = timedelta(seconds=20),
    schedule_to_close: timedelta | None = None,
) -> ActivityEnvironment:
    """An environment to run one activity in, as if Temporal had started it just now."""
    env = ActivityEnvironment()
    now = datetime.now(UTC)
    env.info = dataclasses.replace(
        env.info,
        scheduled_time=now,
        current_attempt_scheduled_time=now,
        started_time=now,
        start_to_close_timeout=start_to_close,
        schedule_to_close_timeout=schedule_to_close,
    )
    return env
