"""Property-based fuzzing of a service from its own /openapi.json (schemathesis), in process.

A service and the stand-ins it calls run on an event loop of their own (an anyio portal
in a thread), started with the same context managers the service tests use. schemathesis
generates requests from the document the running app serves, valid ones and invalid ones;
each is sent with a token for its operation's scope, and the answer must be no 5xx, a
documented status code and content type, and a body matching the documented schema.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import requests
import schemathesis
from anyio.from_thread import BlockingPortal, start_blocking_portal
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from requests.structures import CaseInsensitiveDict
from schemathesis import GenerationMode
from schemathesis import checks as st_checks

from tests.conftest import fresh_postgres_database, postgres_admin_url
from tests.support.tokens import TestIssuer, bearer

# What every answer must satisfy: never a 5xx, only documented status codes, content types
# and bodies.
CHECKS = [
    st_checks.not_a_server_error,
    st_checks.status_code_conformance,
    st_checks.content_type_conformance,
    st_checks.response_schema_conformance,
]
# And a request that breaks the documented schema must be refused (a 4xx), unless the
# operation says why it answers such input otherwise.
REFUSES_INVALID = st_checks.negative_data_rejection

# Examples per operation: with generation derandomized, each run sends the same requests,
# and the whole fuzz suite takes about half a minute on two cores.
MAX_EXAMPLES = 80


def fuzz_settings(max_examples: int = MAX_EXAMPLES) -> settings:
    """Hypothesis settings of a fuzz test: deterministic, a bounded number of examples."""
    return settings(
        max_examples=max_examples,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate, Phase.shrink],
        suppress_health_check=list(HealthCheck),
        print_blob=False,
    )


@dataclass
class InProcess:
    """A running app (and what it calls) on a loop of its own; sends schemathesis cases."""

    portal: BlockingPortal
    client: httpx.AsyncClient
    component: str
    issuer: TestIssuer | None = None
    # Headers for an operation, by its scope (None: an unscoped operation).
    credentials: Callable[[str | None], dict[str, str]] | None = None
    # Scopes only a traveller's token makes sense for, and the account to use.
    travellers: Mapping[str, str] = field(default_factory=dict)
    _tokens: dict[str, str] = field(default_factory=dict)

    def schema(self) -> Any:
        """The schemathesis schema of the document the running app serves."""
        response = self.portal.call(self.client.get, "/openapi.json")
        assert response.status_code == 200, response.text
        schema = schemathesis.openapi.from_dict(response.json())
        # Every request carries valid credentials (the token matrix tests the bad ones), so
        # no case may be made invalid by its Authorization header alone.
        schema.config.generation.update(with_security_parameters=False)
        return schema

    def headers_for(self, scope: str | None) -> dict[str, str]:
        """A valid bearer token for the scope (minted once), or the service's own credentials."""
        if self.credentials is not None:
            return self.credentials(scope)
        if scope is None or self.issuer is None:
            return {}
        if scope not in self._tokens:
            user = self.travellers.get(scope)
            self._tokens[scope] = (
                self.issuer.user_token(user, scope, self.component)
                if user is not None
                else self.issuer.service_token("fuzz", scope, self.component)
            )
        return bearer(self._tokens[scope])

    def send(self, case: Any) -> httpx.Response:
        """Send a generated case to the app, authenticated for its operation."""
        security = case.operation.definition.raw.get("security") or [{}]
        scopes = [scope for requirement in security for scope in requirement.get("bearer", [])]
        kwargs = case.as_transport_kwargs(base_url="http://testserver")
        kwargs.pop("cookies", None)
        # Ours win over any Authorization schemathesis made up for the security scheme.
        kwargs["headers"] = CaseInsensitiveDict(kwargs["headers"])
        kwargs["headers"].update(self.headers_for(scopes[0] if scopes else None))
        prepared = requests.Request(**kwargs).prepare()
        request = functools.partial(
            self.client.request,
            str(prepared.method),
            str(prepared.url),
            headers=dict(prepared.headers),
            content=prepared.body,
        )
        response: httpx.Response = self.portal.call(request)
        return response

    def check(self, case: Any, refuses_invalid: bool = True) -> None:
        """Send a case and check the answer against the document."""
        response = self.send(case)
        case.validate_response(response, checks=CHECKS + [REFUSES_INVALID] * refuses_invalid)


@contextlib.asynccontextmanager
async def fresh_database(var_dir: Path, name: str) -> AsyncIterator[str]:
    """A fresh database: PostgreSQL when the suite has one (as CI does), else a SQLite file.

    One backend per run keeps the fuzz suite's time bounded; PostgreSQL is the stricter one
    (it cannot store a NUL character, for one).
    """
    if postgres_admin_url() is None:
        yield f"sqlite+aiosqlite:///{var_dir}/{name}.db"
        return
    async with fresh_postgres_database() as url:
        yield url


@dataclass
class Parts:
    """What a world built for fuzzing hands back: the client of the app under test, the
    issuer the app trusts (None for an app with credentials of its own), and the account
    whose traveller token to send for scopes only a traveller uses."""

    client: httpx.AsyncClient
    issuer: TestIssuer | None = None
    travellers: Mapping[str, str] = field(default_factory=dict)


@contextlib.contextmanager
def in_process(
    component: str,
    world: Callable[[], AbstractAsyncContextManager[Parts]],
    credentials: Callable[[str | None], dict[str, str]] | None = None,
) -> Iterator[InProcess]:
    """Start a world of apps on a portal's loop; stop it (and the loop) afterwards."""
    with (
        start_blocking_portal() as portal,
        portal.wrap_async_context_manager(world()) as parts,
    ):
        yield InProcess(
            portal, parts.client, component, parts.issuer, credentials, parts.travellers
        )


def fuzz_operation(
    running: InProcess, operation: Any, refuses_invalid: bool, max_examples: int
) -> None:
    """Send one operation valid and invalid requests, checking every answer."""
    cases = st.one_of(
        operation.as_strategy(GenerationMode.POSITIVE),
        operation.as_strategy(GenerationMode.NEGATIVE),
    )

    @fuzz_settings(max_examples)
    @given(case=cases)
    def fuzz(case: Any) -> None:
        running.check(case, refuses_invalid)

    fuzz()


def fuzz_every_operation(
    running: InProcess,
    subtests: pytest.Subtests,
    max_examples: int = MAX_EXAMPLES,
    answers_invalid_input: Mapping[str, str] | None = None,
) -> list[str]:
    """Fuzz each operation of the running app's document (a subtest each); their labels.

    `answers_invalid_input` names operations (by label, "POST /path") that answer some
    schema-breaking input with a 2xx on purpose, each with the reason.
    """
    lenient = answers_invalid_input or {}
    labels = []
    for result in running.schema().get_all_operations():
        operation = result.ok()
        labels.append(operation.label)
        with subtests.test(operation.label):
            fuzz_operation(running, operation, operation.label not in lenient, max_examples)
    return labels
