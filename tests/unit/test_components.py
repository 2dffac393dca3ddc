"""The component registry: each component and worker once, and what derives from it."""

import importlib

from components.registry import (
    COMPONENTS,
    WEBSITE_USER_SCOPES,
    WORKERS,
    oauth_clients,
    workers_to_run,
)
from components.settings import generated_secrets
from temporal.names import TaskQueue


def _contract_scopes() -> set[str]:
    """Every scope constant of every service's api.py."""
    found = set()
    for name in COMPONENTS:
        try:
            contract = importlib.import_module(f"services.{name}.api")
        except ModuleNotFoundError:
            continue
        found |= {
            value
            for key, value in vars(contract).items()
            if key.isupper() and isinstance(value, str) and (":" in value or key == "PROFILE")
        }
    return found


def test_every_scope_a_client_may_get_is_a_constant_of_a_contract():
    granted = {scope for scopes in oauth_clients().values() for scope in scopes}
    assert granted | set(WEBSITE_USER_SCOPES) <= _contract_scopes()


def test_each_process_but_the_key_takers_is_its_own_client():
    clients = oauth_clients()
    assert "bank" not in clients and "mailsink" not in clients
    assert {f"worker-{queue.value}" for queue in TaskQueue} <= set(clients)
    assert clients["worker-payments"] == ("payments:charge", "payments:read", "payments:reconcile")
    assert clients["reservations"] == ()


def test_the_generated_secrets_are_the_bank_keys_the_signing_secrets_and_payload_keys():
    assert {v.name for v in generated_secrets()} == {
        "BANK_SECRET_KEY",
        "BANK_PUBLISHABLE_KEY",
        "USERS_LINK_SECRET",
        "WEB_SESSION_SECRET",
        "TEMPORAL_PAYLOAD_KEYS",
    }
    keys = {v.name: v.generate() for v in generated_secrets() if v.generate}
    assert keys["BANK_SECRET_KEY"].startswith("sk_local_")
    assert keys["BANK_PUBLISHABLE_KEY"].startswith("pk_local_")


def test_up_starts_auth_first_the_website_last_and_every_worker():
    assert list(COMPONENTS)[0] == "auth"
    assert list(COMPONENTS)[-1] == "web"
    assert workers_to_run() == list(TaskQueue)
    assert set(WORKERS) == set(TaskQueue)


def test_every_component_names_an_app_factory_that_exists():
    for component in COMPONENTS.values():
        module, _, factory = component.app.partition(":")
        assert callable(getattr(importlib.import_module(module), factory)), component.name
