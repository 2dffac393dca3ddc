"""The component registry: each component and worker once, and what derives from it."""

import ast
import importlib
from pathlib import Path

import pytest

from components.registry import (
    COMPONENTS,
    WEBSITE_USER_SCOPES,
    WORKERS,
    oauth_clients,
    workers_to_run,
)
from components.settings import generated_secrets
from staysaga import chaos
from staysaga.cli import build_parser
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


ROOT = Path(__file__).resolve().parents[2]
CODE = ("staysaga", "components", "services", "workflows", "activities", "web", "temporal")


def _copied_lists(source: str) -> list[int]:
    """The lines of a module's literal lists that name every worker (by queue or client id)
    or every component: the registry's lists written out again by hand."""
    wholes = [
        {w.queue.value for w in WORKERS.values()},
        {w.client_id for w in WORKERS.values()},
        set(COMPONENTS),
    ]
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.List | ast.Tuple | ast.Set):
            names = {e.value for e in node.elts if isinstance(e, ast.Constant)}
            if any(whole <= names for whole in wholes):
                found.append(node.lineno)
    return found


def test_no_module_writes_the_registrys_workers_or_components_out_by_hand():
    copies = [
        f"{path.relative_to(ROOT)}:{line}"
        for package in CODE
        if package != "components"
        for path in sorted((ROOT / package).rglob("*.py"))
        for line in _copied_lists(path.read_text())
    ]
    assert copies == []


def test_the_list_check_sees_a_hand_written_list_of_workers():
    queues = ", ".join(repr(q.value) for q in WORKERS)
    workers = ", ".join(repr(w.client_id) for w in WORKERS.values())
    source = f"CHOICES = [{queues}]\nSOME = ('booking', 'payments')\nKILL = ({workers})\n"
    assert _copied_lists(source) == [1, 3]


def test_the_worker_command_takes_every_registered_queue_and_nothing_else():
    parser = build_parser("worker")
    assert [parser.parse_args(["worker", q.value]).queue for q in WORKERS] == list(WORKERS)
    with pytest.raises(SystemExit):
        parser.parse_args(["worker", "search"])


def test_the_fault_drill_may_kill_every_component_it_does_not_spare_and_every_worker():
    assert set(chaos.SPARED) < set(COMPONENTS)
    assert set(chaos.SERVICES) == set(COMPONENTS) - set(chaos.SPARED)
    assert set(chaos.WORKERS) == {w.client_id for w in WORKERS.values()}


def test_the_fault_drill_freezes_services_the_saga_calls():
    called = {w.calls for w in WORKERS.values()}
    assert chaos.FROZEN and set(chaos.FROZEN) <= set(chaos.SERVICES) & called
