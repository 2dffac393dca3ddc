"""Each process of the stack loads what it serves: the heavy libraries a process does not
use (the Temporal SDK, alembic, reportlab) stay out of its memory."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from components.registry import COMPONENTS
from temporal.names import SEARCH_ATTRIBUTE_KEYS
from temporal.queues import SEARCH_ATTRIBUTES, search_attribute_flags

# Who may load what: the website reads bookings from Temporal and the codec server decodes
# its payloads; only the PDF service draws documents.
TEMPORAL_SDK_USERS = {"web", "codec"}
REPORTLAB_USERS = {"pdf"}
# Users' contract (its models validate e-mail addresses) is for those that call Users or
# are it: the auth server checks passwords there, the website registers travellers.
USERS_CONTRACT_USERS = {"users", "auth", "web"}
# Only Users sends mail (through the mail relay's client); only the mail sink receives it.
SMTP_CLIENT_USERS: set[str] = set()
SMTP_SERVER_USERS = {"mailsink"}


def _loaded_modules(code: str) -> set[str]:
    """Every module a fresh interpreter holds once it has run `code`."""
    probe = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))\n"
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    return set(json.loads(out.stdout))


def _loaded(command: str, *modules: str) -> set[str]:
    """The top-level packages a fresh interpreter holds once it has parsed the arguments of
    `staysaga COMMAND` and imported `modules`, as a process of the stack does."""
    code = (
        "import importlib, json, sys\n"
        "from staysaga.cli import build_parser\n"
        f"build_parser({command!r})\n"
        f"for name in {list(modules)!r}: importlib.import_module(name)\n"
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    return set(json.loads(out.stdout))


@pytest.mark.parametrize("name", sorted(COMPONENTS))
def test_a_service_process_loads_only_the_libraries_it_serves_with(name):
    app_module = COMPONENTS[name].app.partition(":")[0]
    loaded = _loaded("serve", app_module)
    assert ("temporalio" in loaded) == (name in TEMPORAL_SDK_USERS)
    assert ("reportlab" in loaded) == (name in REPORTLAB_USERS)
    assert ("email_validator" in loaded) == (name in USERS_CONTRACT_USERS)
    assert ("aiosmtplib" in loaded) == (name in SMTP_CLIENT_USERS)
    assert ("aiosmtpd" in loaded) == (name in SMTP_SERVER_USERS)
    assert "alembic" not in loaded


def test_the_registry_loads_no_services_models():
    # Every process loads the registry: it names scopes (`services/<name>/scopes.py`),
    # and building every service's pydantic models for that cost each process ~0.1 s.
    loaded = _loaded_modules("import components.registry")
    models = {m for m in loaded if m.startswith("services.") and m.endswith(".api")}
    assert models <= {"services.auth.api"}
    assert "email_validator" not in {m.split(".")[0] for m in loaded}


def test_the_launcher_loads_neither_the_temporal_sdk_nor_a_services_libraries():
    loaded = _loaded("up", "staysaga.stack", "components.settings")
    assert not {"temporalio", "sqlalchemy", "prometheus_client"} & loaded


def test_the_plain_search_attributes_match_the_sdks_typed_keys():
    assert {key.name for key in SEARCH_ATTRIBUTE_KEYS} == set(SEARCH_ATTRIBUTES)
    for key in SEARCH_ATTRIBUTE_KEYS:
        kind = key.indexed_value_type.name.removeprefix("INDEXED_VALUE_TYPE_").title()
        assert SEARCH_ATTRIBUTES[key.name] == kind
    assert search_attribute_flags().count("--search-attribute") == len(SEARCH_ATTRIBUTE_KEYS)


@pytest.mark.parametrize("queue", ["booking", "reservations"])
def test_a_worker_loads_no_web_server_nor_database_library(queue):
    module = "workflows.worker" if queue == "booking" else "activities.worker"
    loaded = _loaded("worker", module)
    assert not {"sqlalchemy", "alembic", "reportlab", "uvicorn"} & loaded
