"""Only a service's own package names its routes and its problem types.

Callers reach a service through its typed client (`services/<name>/client.py`, inside the
service's package), which owns the paths of its routes, and branch on a refusal by the
constants of its `api.py`. This reads the code's syntax, not only its spelled-out strings:
naming `api.HOLDS_PATH` or `api.hold_path(...)` outside the service is a hand-made call as
surely as writing "/holds" is.
"""

from __future__ import annotations

import ast
import importlib
import re
from pathlib import Path

from tests.unit.test_architecture import _docstrings

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("staysaga", "components", "services", "workflows", "activities", "web", "temporal")
SERVICES = sorted(p.parent.name for p in (ROOT / "services").glob("*/api.py"))

# The modules that may name another service's paths, and why.
PATH_READERS = {
    "staysaga.bench": "the benchmark's raw load generator: it requests Search's hotel list "
    "below any client, to measure the framework, and waits for its stand-in issuer's keys",
    "staysaga.bench_servers": "the benchmark's stand-in issuer serves the auth server's "
    "token and key paths",
    "components.registry": "derives the auth server's default token and JWKS addresses, "
    "which every process's settings and the deployment's manifests read from it",
}

# A problem type is a slug (`sold-out`); a service's are the slug constants of its api.py
# and the literal types of the problems its package raises.
SLUG = re.compile(r"[a-z]+(?:-[a-z]+)+")


def _sources() -> dict[str, Path]:
    """Every project module outside the tests -> its file."""
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            found[module.removesuffix(".__init__")] = path
    return found


SOURCES = _sources()


def _service(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if parts[0] == "services" and len(parts) > 1 else None


def _contract_of(module: str) -> str | None:
    """The service whose contract `module` is (`services.bank.api` -> bank), or None."""
    parts = module.split(".")
    if len(parts) == 3 and parts[0] == "services" and parts[2] == "api":
        return parts[1]
    return None


def _names_a_route(name: str) -> bool:
    """A path constant (`HOLDS_PATH`) or a path helper (`hold_path`) of a contract."""
    return name.endswith(("_PATH", "_path"))


def _dotted(node: ast.expr) -> str | None:
    """`services.bank.api` for the expression spelling it, else None."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        head = _dotted(node.value)
        return f"{head}.{node.attr}" if head else None
    return None


def route_references(source: str) -> list[tuple[int, str, str]]:
    """(line, service, name) for each path constant or helper of a service's `api.py` that
    the module imports or reads (`api.HOLDS_PATH`, `from ...api import hold_path`)."""
    tree = ast.parse(source)
    contracts: dict[str, str] = {}  # a local name bound to a contract -> its service
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                service = _contract_of(alias.name)
                if service and alias.asname:
                    contracts[alias.asname] = service
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            imported_from = _contract_of(node.module)
            for alias in node.names:
                service = _contract_of(f"{node.module}.{alias.name}")
                if service:
                    contracts[alias.asname or alias.name] = service
                if imported_from and _names_a_route(alias.name):
                    found.append((node.lineno, imported_from, alias.name))
    for node in ast.walk(tree):
        if not isinstance(node, ast.Attribute) or not _names_a_route(node.attr):
            continue
        owner = _dotted(node.value)
        service = contracts.get(owner or "") or _contract_of(owner or "")
        if service:
            found.append((node.lineno, service, node.attr))
    return sorted(found)


def _hand_made_route_references() -> list[str]:
    found = []
    for module, path in sorted(SOURCES.items()):
        if module in PATH_READERS:
            continue
        for line, service, name in route_references(path.read_text()):
            if service != _service(module):
                found.append(f"{module}:{line} names {service}'s {name}")
    return found


def test_only_a_service_and_its_client_name_its_routes():
    # Everyone else calls `services/<name>/client.py`, which names the route and parses
    # its answer into the contract's model.
    assert _hand_made_route_references() == []


def test_every_route_reader_outside_the_services_is_still_one():
    for module in PATH_READERS:
        assert route_references(SOURCES[module].read_text()), f"{module} reads no path now"


def test_the_route_check_sees_every_way_of_naming_a_route():
    source = (
        "import services.bank.api\n"
        "import services.users.api as people\n"
        "from services.payments import api\n"
        "from services.reservations import api as reservations_api\n"
        "from services.search.api import HOTELS_PATH, HotelQuery\n"
        "def calls(http):\n"
        "    http.post(services.bank.api.TOKENS_PATH)\n"
        "    http.get(people.user_path('u-1'))\n"
        "    http.post(api.capture_path('b-1'))\n"
        "    http.get(reservations_api.HOLDS_PATH, scopes=reservations_api.READ)\n"
        "    return HotelQuery, HOTELS_PATH\n"
    )
    assert route_references(source) == [
        (5, "search", "HOTELS_PATH"),
        (7, "bank", "TOKENS_PATH"),
        (8, "users", "user_path"),
        (9, "payments", "capture_path"),
        (10, "reservations", "HOLDS_PATH"),
    ]


def _makes_a_problem(call: ast.Call, in_problem_class: bool) -> bool:
    """`Problem(...)`, or `super().__init__(...)` in a subclass of Problem."""
    func = call.func
    if (_dotted(func) or "").split(".")[-1] == "Problem":
        return True
    return (
        in_problem_class
        and isinstance(func, ast.Attribute)
        and func.attr == "__init__"
        and isinstance(func.value, ast.Call)
        and _dotted(func.value.func) == "super"
    )


def _raised_types(tree: ast.AST) -> set[str]:
    """The literal types of the problems a module makes (`Problem(status, type, ...)`)."""
    problem_classes = {
        id(node)
        for node in ast.walk(tree)
        if isinstance(node, ast.ClassDef)
        and any((_dotted(b) or "").endswith("Problem") for b in node.bases)
    }
    calls = [(node, False) for node in ast.walk(tree) if isinstance(node, ast.Call)]
    for node in ast.walk(tree):
        if id(node) in problem_classes:
            calls += [(call, True) for call in ast.walk(node) if isinstance(call, ast.Call)]
    found = set()
    for call, in_problem_class in calls:
        if not _makes_a_problem(call, in_problem_class):
            continue
        given = call.args[1] if len(call.args) > 1 else None
        given = next((k.value for k in call.keywords if k.arg == "type"), given)
        if isinstance(given, ast.Constant) and isinstance(given.value, str):
            found.add(given.value)
    return found


def _common_types() -> set[str]:
    """The problem types every service shares (`not-found`, `validation-error`)."""
    found = set()
    for path in (ROOT / "services" / "common").rglob("*.py"):
        tree = ast.parse(path.read_text())
        found |= _raised_types(tree)
        if path.name == "problems.py":
            found |= {
                node.value
                for node in ast.walk(tree)
                if isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and SLUG.fullmatch(node.value)
            }
    return found


def problem_types() -> dict[str, set[str]]:
    """Each service's own problem type -> the services answering with it (Payments passes
    the bank's declines on under the same names)."""
    owners: dict[str, set[str]] = {}
    for service in SERVICES:
        contract = importlib.import_module(f"services.{service}.api")
        types = {
            value
            for name, value in vars(contract).items()
            if name.isupper() and isinstance(value, str) and SLUG.fullmatch(value)
        }
        for path in (ROOT / "services" / service).rglob("*.py"):
            types |= _raised_types(ast.parse(path.read_text()))
        for kind in types:
            owners.setdefault(kind, set()).add(service)
    for shared in _common_types():
        owners.pop(shared, None)
    return owners


def _retyped_problem_types() -> list[str]:
    owners = problem_types()
    found = []
    for module, path in sorted(SOURCES.items()):
        tree = ast.parse(path.read_text())
        docstrings = _docstrings(tree)
        for node in ast.walk(tree):
            if not isinstance(node, ast.Constant) or not isinstance(node.value, str):
                continue
            services = owners.get(node.value, set())
            if services and id(node) not in docstrings and _service(module) not in services:
                owner = "/".join(sorted(services))
                found.append(f"{module}:{node.lineno} retypes {owner}'s {node.value!r}")
    return sorted(found)


def test_only_a_service_spells_its_problem_types():
    # A caller branches on a refusal by the constant in the service's api.py, so that a
    # renamed type is a failed import, not a refusal quietly taken for another.
    assert _retyped_problem_types() == []


def test_the_problem_check_knows_the_types_callers_branch_on():
    owners = problem_types()
    assert owners["sold-out"] == {"reservations"}
    assert owners["hold-expired"] == {"reservations"}
    assert owners["card-token-used"] == {"payments"}
    assert owners["card-declined"] == {"bank", "payments"}
    assert "not-found" not in owners and "validation-error" not in owners
