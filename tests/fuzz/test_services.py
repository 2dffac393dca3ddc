"""Each service fuzzed from its own OpenAPI document, with valid credentials for every
operation: no 5xx, and every answer as documented (tests/support/fuzz.py)."""

from __future__ import annotations

import base64
import contextlib
import functools
import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.auth.app import create_app as create_auth_app
from services.common.payload_keys import new_key_entry
from services.pdf.app import create_app as create_pdf_app
from temporal.codec import ENCODING, KEY_ID
from temporal.codec_server import DECODE_PATH, OPERATOR_SCOPE
from temporal.codec_server import create_app as create_codec_app
from tests.services.auth.conftest import SECRETS, stand_in_users
from tests.services.reservations.conftest import start as start_reservations
from tests.services.search.conftest import seeded_search
from tests.services.users.conftest import users_world
from tests.support.fuzz import (
    Parts,
    fresh_database,
    fuzz_every_operation,
    fuzz_settings,
    in_process,
)
from tests.support.harness import running_app, settings_for
from tests.support.mailsink import running_sink
from tests.support.money import SECRET_KEY, key_headers, money_env, running_money, tokenize
from tests.support.tokens import TestIssuer

pytestmark = pytest.mark.fuzz


def test_pdf_answers_every_request_as_documented(tmp_path, subtests: pytest.Subtests):
    @contextlib.asynccontextmanager
    async def world() -> AsyncIterator[Parts]:
        async with fresh_database(tmp_path, "pdf") as url:
            app = create_pdf_app(settings_for(tmp_path, {"PDF_DATABASE_URL": url}))
            issuer = TestIssuer()
            issuer.install(app)
            async with running_app(app) as client:
                yield Parts(client, issuer)

    with in_process("pdf", world) as running:
        assert fuzz_every_operation(running, subtests)


def test_users_answers_every_request_as_documented(tmp_path, subtests: pytest.Subtests):
    @contextlib.asynccontextmanager
    async def world() -> AsyncIterator[Parts]:
        async with (
            fresh_database(tmp_path, "users") as url,
            running_sink(tmp_path / "sink") as sink,
            users_world(tmp_path, url, sink.smtp_port, TestIssuer()) as users,
        ):
            account = await users.register("fuzz@example.com")
            # Its verification mail out of the way: mail's MIME boundaries come from the
            # `random` module, which hypothesis wants left alone while it draws.
            await sink.wait_for("fuzz@example.com")
            yield Parts(users.client, users.issuer, travellers={"profile": account["id"]})

    with in_process("users", world) as running:
        assert fuzz_every_operation(running, subtests)


def test_search_answers_every_request_as_documented(tmp_path, subtests: pytest.Subtests):
    @contextlib.asynccontextmanager
    async def world() -> AsyncIterator[Parts]:
        async with (
            fresh_database(tmp_path, "search") as search_url,
            fresh_database(tmp_path, "reservations") as stock_url,
            seeded_search(tmp_path, search_url, stock_url) as stack,
        ):
            yield Parts(stack.client)

    with in_process("search", world) as running:
        assert fuzz_every_operation(running, subtests)


# Search's batched questions: one bad search gets its own problem, the others their answers.
SEARCHES = {"POST /availability/searches": "each search is answered (or refused) on its own"}


def test_reservations_answers_every_request_as_documented(tmp_path, subtests: pytest.Subtests):
    @contextlib.asynccontextmanager
    async def world() -> AsyncIterator[Parts]:
        async with (
            fresh_database(tmp_path, "reservations") as url,
            start_reservations(url, tmp_path) as running,
        ):
            yield Parts(running.client, running.issuer)

    with in_process("reservations", world) as running:
        assert fuzz_every_operation(running, subtests, answers_invalid_input=SEARCHES)


@contextlib.asynccontextmanager
async def _money(var_dir: Path, which: str) -> AsyncIterator[Parts]:
    async with (
        fresh_database(var_dir, "bank") as bank_url,
        fresh_database(var_dir, "payments") as payments_url,
        running_money(var_dir, money_env(bank_url, payments_url)) as money,
    ):
        # A payment for booking "0", the id generation tries first and most: the routes
        # that move its money then meet a real one.
        body = {
            "booking_id": "0",
            "user_id": "user-1",
            "amount": 25_000,
            "currency": "EUR",
            "card_token": await tokenize(money.bank),
        }
        paid = await money.payments.post("/payments", json=body, headers=money.service())
        assert paid.status_code == 201, paid.text
        yield Parts(money.bank) if which == "bank" else Parts(money.payments, money.issuer)


def test_payments_answers_every_request_as_documented(tmp_path, subtests: pytest.Subtests):
    with in_process("payments", lambda: _money(tmp_path, "payments")) as running:
        assert fuzz_every_operation(running, subtests)


def _merchant(scope: str | None) -> dict[str, str]:
    """The bank takes its own secret key, and an idempotency key on each money movement."""
    return key_headers(SECRET_KEY, idempotency_key=uuid.uuid4().hex)


def test_bank_answers_every_request_as_documented(tmp_path, subtests: pytest.Subtests):
    with in_process("bank", lambda: _money(tmp_path, "bank"), _merchant) as running:
        assert fuzz_every_operation(running, subtests)


def _website(scope: str | None) -> dict[str, str]:
    """The website's client credentials (HTTP Basic), so token requests get past them."""
    credentials = base64.b64encode(f"web:{SECRETS['web']}".encode()).decode()
    return {"Authorization": f"Basic {credentials}"}


def test_auth_answers_every_request_as_documented(tmp_path, subtests: pytest.Subtests):
    @contextlib.asynccontextmanager
    async def world() -> AsyncIterator[Parts]:
        async with fresh_database(tmp_path, "auth") as url:
            settings = settings_for(
                tmp_path, {"AUTH_DATABASE_URL": url, "AUTH_CLIENT_SECRETS": json.dumps(SECRETS)}
            )
            holder: dict[str, httpx.AsyncClient] = {}
            transport = httpx.ASGITransport(app=stand_in_users(settings, holder))
            async with httpx.AsyncClient(
                transport=transport, base_url="http://users.test"
            ) as to_users:
                app = create_auth_app(
                    settings.with_overrides(USERS_URL="http://users.test"), users_http=to_users
                )
                async with running_app(app) as client:
                    holder["client"] = client
                    yield Parts(client)

    with in_process("auth", world, _website) as running:
        assert fuzz_every_operation(running, subtests)


def test_mailsink_answers_every_request_as_documented(tmp_path, subtests: pytest.Subtests):
    @contextlib.asynccontextmanager
    async def world() -> AsyncIterator[Parts]:
        async with running_sink(tmp_path) as sink:
            yield Parts(sink.http)

    with in_process("mailsink", world) as running:
        assert fuzz_every_operation(running, subtests)


def _codec(var_dir: Path) -> contextlib.AbstractAsyncContextManager[Parts]:
    @contextlib.asynccontextmanager
    async def world() -> AsyncIterator[Parts]:
        # A production codec: operators' tokens only, and the keys the workers use.
        env = {"TEMPORAL_PAYLOAD_KEYS": new_key_entry("k1"), "TEMPORAL_DEV_SERVER": "false"}
        app = create_codec_app(settings_for(var_dir, env))
        issuer = TestIssuer()
        issuer.install(app)
        async with running_app(app) as client:
            yield Parts(client, issuer, travellers={OPERATOR_SCOPE: "operator-1"})

    return world()


def test_codec_answers_every_request_as_documented(tmp_path, subtests: pytest.Subtests):
    with in_process("codec", lambda: _codec(tmp_path)) as running:
        assert fuzz_every_operation(running, subtests)


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def test_codec_refuses_any_payload_marked_sealed_it_cannot_open(tmp_path):
    # The document cannot steer generation to the one encoding the codec opens: draw
    # payloads that carry it, with any key id and data of any length.
    sealed = st.builds(
        lambda key_id, data: {
            "metadata": {"encoding": _b64(ENCODING), KEY_ID: _b64(key_id)},
            "data": _b64(data),
        },
        st.one_of(st.just(b"k1"), st.binary(max_size=8)),
        st.binary(max_size=64),
    )
    with in_process("codec", lambda: _codec(tmp_path)) as running:
        headers = running.headers_for(OPERATOR_SCOPE)

        @fuzz_settings()
        @given(payload=sealed)
        def decode(payload: dict[str, object]) -> None:
            post = functools.partial(
                running.client.post, DECODE_PATH, json={"payloads": [payload]}, headers=headers
            )
            response = running.portal.call(post)
            assert response.status_code == 422, response.text
            assert response.json()["field"] == "payloads"

        decode()
