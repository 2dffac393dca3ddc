"""The bad-token matrix over every protected route of every service in COMPONENTS.

Each app is built with a TestIssuer installed; every Endpoint that declares a scope must
refuse a missing, expired, foreign-audience, foreign-issuer, alg-none, HS256-with-the-
public-key, unknown-kid, non-access and garbage token (401), and a token without the scope
(403). Services merged later are covered by being listed in COMPONENTS.
"""

from __future__ import annotations

import importlib
import re

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse

from components.registry import COMPONENTS
from services.common.app import create_service_app
from services.common.openapi import Endpoint
from services.common.payload_keys import new_key_entry
from tests.support.harness import running_app, settings_for
from tests.support.tokens import TestIssuer, assert_refuses_bad_tokens

_PARAM = re.compile(r"{(\w+)(?::\w+)?}")


def _factory(component: str):
    module_name, _, factory_name = COMPONENTS[component].app.partition(":")
    return getattr(importlib.import_module(module_name), factory_name)


async def assert_app_refuses_bad_tokens(app: Starlette, component: str) -> int:
    """Run the matrix on every scoped Endpoint of an app; returns how many were checked."""
    issuer = TestIssuer()
    issuer.install(app)
    endpoints = app.state.endpoints
    assert endpoints, f"{component} declares no endpoints on app.state"
    checked = 0
    async with running_app(app) as client:
        for endpoint in endpoints:
            if not endpoint.scope:
                continue
            path = _PARAM.sub("1", endpoint.path)
            body = {"json": {}} if endpoint.method in ("POST", "PUT", "PATCH") else {}
            await assert_refuses_bad_tokens(
                client, issuer, endpoint.method, path, endpoint.scope, component, **body
            )
            checked += 1
    return checked


# Components that do not take our bearer tokens, and where their own checks are tested.
NOT_BEARER = {
    "web": "the website authenticates travellers by session cookie + CSRF (tests/web)",
    "bank": "a third party: merchants use its API keys (tests/services/bank)",
    "mailsink": "a local developer tool on loopback, not part of the product",
}


# What a component needs in its environment before it will start at all.
START_ENV = {
    "payments": {"BANK_SECRET_KEY": "sk_test_matrix"},
    # Outside the dev server, the codec takes operators' tokens only.
    "codec": {"TEMPORAL_DEV_SERVER": "false", "TEMPORAL_PAYLOAD_KEYS": new_key_entry()},
}


@pytest.mark.parametrize("component", sorted(COMPONENTS))
async def test_every_protected_route_refuses_bad_tokens(component, tmp_path):
    if component in NOT_BEARER:
        pytest.skip(NOT_BEARER[component])
    settings = settings_for(tmp_path, START_ENV.get(component))
    await assert_app_refuses_bad_tokens(_factory(component)(settings), component)


async def test_the_matrix_walks_scoped_routes_with_path_parameters(tmp_path):
    async def handler(request: Request) -> JSONResponse:
        return JSONResponse({})

    app = create_service_app(
        "payments",
        settings_for(tmp_path),
        [
            Endpoint("GET", "/open", handler, "open"),
            Endpoint("GET", "/things/{thing_id}", handler, "read", scope="payments:read"),
            Endpoint(
                "POST", "/things/{thing_id:int}/charge", handler, "c", scope="payments:charge"
            ),
        ],
        title="sample",
    )
    assert await assert_app_refuses_bad_tokens(app, "payments") == 2


def test_search_keeps_its_catalogue_reads_open():
    from services.search.app import ENDPOINTS

    assert all(e.scope is None for e in ENDPOINTS)
