"""The layers of docs/ARCHITECTURE.md, checked against the imports of the code."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = (
    "staysaga",
    "components",
    "services",
    "workflows",
    "activities",
    "web",
    "temporal",
    "tests",
)
# Modules of workflows/ that run outside the sandbox: the worker, the replayer and the
# schedules the worker keeps.
WORKFLOW_PLUMBING = {
    "workflows.worker",
    "workflows.replay",
    "workflows.schedules",
    "workflows.settings",
}
WORKFLOW_DEPENDENCIES = ("workflows", "activities.models", "temporal.names")
# The booking's states as plain names, which the launcher reads without loading the Temporal
# SDK: they take the search attribute's name from the SDK-free half of `temporal.names`.
PLAIN_NAMES: dict[str, tuple[str, ...]] = {"workflows.states": ("temporal.queues",)}


def _imports() -> dict[str, set[str]]:
    """Every project module -> the project modules it imports (absolute imports)."""
    found: dict[str, set[str]] = {}
    for package in PACKAGES[:-1]:
        for path in (ROOT / package).rglob("*.py"):
            module = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(
                ".__init__"
            )
            names: set[str] = set()
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.Import):
                    names.update(alias.name for alias in node.names)
                elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                    names.update(f"{node.module}.{alias.name}" for alias in node.names)
                    names.add(node.module)
            found[module] = {n for n in names if n.split(".")[0] in PACKAGES}
    return found


IMPORTS = _imports()


def _within(imported: str, *modules: str) -> bool:
    """Whether the import is one of the modules, or a name or submodule of one."""
    return any(imported == m or imported.startswith(m + ".") for m in modules)


def _service(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if parts[0] == "services" and len(parts) > 1 else None


PUBLIC_MODULES = ("api", "scopes", "client", "settings")


def _is_contract(imported: str) -> bool:
    """A service's public contract, `services.<name>.api` (its scopes in `.scopes`), its client,
    `services.<name>.client`, or its settings, `services.<name>.settings` (or a name in
    one of them)."""
    parts = imported.split(".")
    return len(parts) >= 3 and parts[0] == "services" and parts[2] in PUBLIC_MODULES


def _names_contract(module: str, imported: str) -> bool:
    """`from services.<name> import api` (or `client`, `settings`): the import names the
    package."""
    return any(f"{imported}.{public}" in IMPORTS[module] for public in PUBLIC_MODULES)


def _violations(rule) -> list[str]:
    return sorted(f"{m} -> {i}" for m, names in IMPORTS.items() for i in names if rule(m, i))


def test_a_service_imports_only_common_and_other_services_contracts():
    def breaks(module: str, imported: str) -> bool:
        own, other = _service(module), _service(imported)
        if own in (None, "common") or other in (None, "common", own):
            return False
        # `from services.bank import api` names the contract too.
        return not _is_contract(imported) and not _names_contract(module, imported)

    assert _violations(breaks) == []


def test_a_client_imports_only_its_own_contract_and_common():
    def breaks(module: str, imported: str) -> bool:
        parts = module.split(".")
        if parts[0] != "services" or parts[-1] != "client" or _service(imported) is None:
            return False
        own = f"services.{parts[1]}"
        allowed = imported in (own, f"{own}.api") or imported.startswith(f"{own}.api.")
        return _service(imported) != "common" and not allowed

    assert _violations(breaks) == []


def test_common_knows_no_service():
    def breaks(module: str, imported: str) -> bool:
        if _service(module) != "common":
            return False
        return _service(imported) not in (None, "common") or imported.split(".")[0] != "services"

    assert _violations(breaks) == []


# What the component registry may read (docs/ARCHITECTURE.md): each service's scopes and
# settings, Auth's contract (its paths), the other settings groups (website, reconciler),
# services/common and the task-queue names without the SDK (every process loads the registry).
REGISTRY_READS = (
    "components",
    "services.auth.api",
    "services.common",
    "web.settings",
    "workflows.settings",
    "temporal.queues",
)


def _registry_may_read(imported: str) -> bool:
    parts = imported.split(".")
    if _within(imported, *REGISTRY_READS):
        return True
    if parts[0] != "services":
        return False
    # `from services.users import scopes` names the package; the module is checked too.
    return len(parts) == 2 or parts[2] in ("scopes", "settings")


def test_the_registry_reads_only_scopes_settings_auths_paths_and_queue_names():
    def breaks(module: str, imported: str) -> bool:
        return _within(module, "components") and not _registry_may_read(imported)

    assert _violations(breaks) == []


def test_the_registry_check_refuses_a_services_models_and_the_sdks_names():
    assert _registry_may_read("services.users.scopes.READ")
    assert _registry_may_read("services.bank.settings.BankSettings")
    assert _registry_may_read("services.auth.api")
    assert not _registry_may_read("services.payments.api")
    assert not _registry_may_read("services.payments.client")
    assert not _registry_may_read("temporal.names")
    assert not _registry_may_read("web.app")


def test_settings_modules_read_only_common():
    def breaks(module: str, imported: str) -> bool:
        if module.split(".")[-1] != "settings" or module.startswith("components"):
            return False
        return not imported.startswith("services.common")

    assert _violations(breaks) == []


def _workflow_may_import(module: str, imported: str) -> bool:
    if _within(imported, *WORKFLOW_PLUMBING):
        return False
    # `from activities import models`, `from workflows import steps` name the package too.
    if imported in ("activities", "workflows"):
        return True
    return _within(imported, *WORKFLOW_DEPENDENCIES, *PLAIN_NAMES.get(module, ()))


def test_workflow_definitions_import_only_models_and_names():
    def breaks(module: str, imported: str) -> bool:
        if not module.startswith("workflows.") or module in WORKFLOW_PLUMBING:
            return False
        return not _workflow_may_import(module, imported)

    assert _violations(breaks) == []


def test_the_workflow_check_refuses_the_plain_names_but_to_the_states():
    assert _workflow_may_import("workflows.steps", "temporal.names.TaskQueue")
    assert _workflow_may_import("workflows.steps", "activities.models")
    assert not _workflow_may_import("workflows.steps", "temporal.queues")
    assert not _workflow_may_import("workflows.steps", "activities.payments")
    assert not _workflow_may_import("workflows.steps", "workflows.worker")
    assert _workflow_may_import("workflows.states", "temporal.queues.BOOKING_STATUS_ATTRIBUTE")


def test_activities_and_web_reach_services_only_through_their_contracts():
    def breaks(module: str, imported: str) -> bool:
        if module.split(".")[0] not in ("activities", "web"):
            return False
        other = _service(imported)
        return (
            other not in (None, "common")
            and not _is_contract(imported)
            and not _names_contract(module, imported)
        )

    assert _violations(breaks) == []


def test_temporal_imports_only_common():
    def breaks(module: str, imported: str) -> bool:
        if not _within(module, "temporal"):
            return False
        return not _within(imported, "temporal", "services.common")

    assert _violations(breaks) == []


def test_only_tooling_imports_the_cli_package_and_nothing_imports_tests():
    def breaks(module: str, imported: str) -> bool:
        top, target = module.split(".")[0], imported.split(".")[0]
        return target == "tests" or (target == "staysaga" and top != "staysaga")

    assert _violations(breaks) == []


def test_the_check_sees_the_imports_it_judges():
    assert "services.common.settings" in IMPORTS["services.payments.app"]
    assert "services.bank.api" in IMPORTS["services.payments.bank"]


# A service's paths and scopes, which only its own package (its app, and the typed client
# in `client.py` every caller uses) may spell out. Tests are exempt: they stand in for the
# services. The auth server is exempt from the scope rule only: `services/auth/oauth_clients.py`
# is where scopes are granted to clients.
SERVICE_PATHS = {
    "auth": ("/oauth2", "/.well-known"),
    "payments": ("/payments", "/reconciliation"),
    "reservations": ("/holds", "/reservations", "/availability", "/inventory", "/reconciliation"),
    "search": ("/cities", "/hotels"),
    "users": ("/users", "/email-verifications", "/password-resets", "/credentials"),
    "pdf": ("/documents",),
    "bank": ("/tokens", "/authorizations", "/admin/faults"),
    "mailsink": ("/api/messages",),
}
# The services whose scopes are named otherwise than the service (`documents:render`).
SCOPE_PREFIXES = {"pdf": "documents"}
SCOPE_GRANTS = {"services.auth.oauth_clients"}


def _served_paths(tree: ast.AST) -> set[int]:
    """The ids of the literals naming a route the module serves itself (`Route("/hotels/...")`
    of the website): its own paths, not a call to the service of the same path."""
    return {
        id(node.args[0])
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "Route"
        and node.args
    }


def _literals(path: Path) -> set[tuple[int, str]]:
    """The module's string literals (an f-string by its leading text), with their lines."""
    found = set()
    tree = ast.parse(path.read_text())
    served = _served_paths(tree)
    for node in ast.walk(tree):
        if id(node) in served:
            continue
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            found.add((node.lineno, node.value))
        elif isinstance(node, ast.JoinedStr) and node.values:
            head = node.values[0]
            if isinstance(head, ast.Constant) and isinstance(head.value, str):
                found.add((node.lineno, head.value))
    return found


def _sources() -> dict[str, Path]:
    sources = {}
    for package in PACKAGES[:-1]:
        for path in (ROOT / package).rglob("*.py"):
            module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            sources[module.removesuffix(".__init__")] = path
    return sources


def _spells_a_path(text: str, prefixes: tuple[str, ...]) -> bool:
    return any(text == p or text.startswith((p + "/", p + "?", p + "{")) for p in prefixes)


def _spells_a_scope(text: str, service: str) -> bool:
    """Whether the text is a list of scopes naming one of the service's (`payments:read`)."""
    prefix = SCOPE_PREFIXES.get(service, service)
    return any(re.fullmatch(rf"{prefix}:[a-z_]+", word) for word in text.split())


def _owners(text: str) -> set[str]:
    """The services whose path or scope the text spells (a prefix may have several)."""
    return {
        name
        for name, prefixes in SERVICE_PATHS.items()
        if _spells_a_path(text, prefixes) or _spells_a_scope(text, name)
    }


def _hand_made_calls() -> list[str]:
    found = []
    for module, path in _sources().items():
        for line, text in sorted(_literals(path)):
            owners = _owners(text)
            if not owners or _service(module) in owners:
                continue
            if module in SCOPE_GRANTS and not text.startswith("/"):
                continue
            found.append(f"{module}:{line} spells {'/'.join(sorted(owners))}'s {text!r}")
    return sorted(found)


def test_only_a_service_and_its_client_spell_its_paths_and_scopes():
    # Callers go through `services/<name>/client.py`: the paths, the scopes and the shapes
    # of the payloads are stated once, in the service's own package.
    assert _hand_made_calls() == []


def test_the_path_check_knows_every_path_of_the_contracts():
    import importlib

    for name in SERVICE_PATHS:
        contract = importlib.import_module(f"services.{name}.api")
        paths = [
            value
            for key, value in vars(contract).items()
            if key.endswith("_PATH") and isinstance(value, str)
        ]
        assert paths, f"{name}'s api.py names its paths"
        assert [p for p in paths if not _spells_a_path(p, SERVICE_PATHS[name])] == []


def _docstrings(tree: ast.AST) -> set[int]:
    """The ids of a module's docstring nodes (they may explain; code may not name)."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                found.add(id(body[0].value))
    return found


def _named_components(text: str, names: set[str]) -> set[str]:
    """The components a string names: `bank`, a variable of one, `BANK_SECRET_KEY`, or one
    of its scopes, `bank:read`."""
    return {
        n
        for n in names
        if text == n or re.search(rf"\b{n.upper()}_[A-Z]", text) or re.search(rf"\b{n}:", text)
    }


def test_common_names_no_component_in_its_code():
    from components.registry import COMPONENTS

    names = set(COMPONENTS)
    found = []
    for path in sorted((ROOT / "services" / "common").rglob("*.py")):
        tree = ast.parse(path.read_text())
        docstrings = _docstrings(tree)
        for node in ast.walk(tree):
            if not isinstance(node, ast.Constant) or not isinstance(node.value, str):
                continue
            if id(node) not in docstrings and _named_components(node.value, names):
                found.append(f"{path.name}:{node.lineno} {node.value!r}")
    assert found == []


def test_the_name_check_sees_a_variable_of_a_component():
    assert _named_components("BANK_SECRET_KEY", {"bank"}) == {"bank"}
    assert _named_components("search", {"search"}) == {"search"}
    assert _named_components("scope users:read", {"users"}) == {"users"}
    assert _named_components("the auth service", {"auth"}) == set()


def test_the_path_check_catches_a_hand_made_call(tmp_path):
    module = tmp_path / "caller.py"
    module.write_text(
        "from starlette.routing import Route\n"
        "ROUTES = [Route('/hotels/{hotel_id:int}', None)]\n"  # a page of its own: allowed
        "async def hotel(http, hotel_id):\n"
        "    return await http.get(f'/hotels/{hotel_id}', scope='documents:read')\n"
        "TOKEN = '/tokens'\n"
    )
    spelled = sorted((text, _owners(text)) for _, text in _literals(module) if _owners(text))
    assert spelled == [
        ("/hotels/", {"search"}),
        ("/tokens", {"bank"}),
        ("documents:read", {"pdf"}),
    ]
