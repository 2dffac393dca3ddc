"""Who runs in the cluster and who may call whom: the production topology's facts, from
the component registry, that the manifests of staysaga.manifests are built on."""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from components.registry import AUTH_SERVER, COMPONENTS, WORKERS, Component, Worker

Manifest = dict[str, Any]

NAMESPACE = "staysaga"
IMAGE = "registry.staysaga.example/staysaga:0.1.0"
SECRET = "staysaga"  # noqa: S105 - the name of the platform's Secret
CONFIG = "staysaga-config"
REPLICAS = 2
UID = 10001
DEPLOY_DIR = Path(__file__).resolve().parents[2] / "deploy" / "k8s"

# Local development tools, not deployed: a real SMTP relay replaces the mail sink.
LOCAL_ONLY = frozenset({"mailsink"})

# Who calls whom inside the namespace (besides every process calling the authorization
# server for tokens and keys): what the NetworkPolicies let through. A test checks it covers
# every audience the registry's scopes and the website's user tokens name.
CALLS: Mapping[str, tuple[str, ...]] = {
    "auth": ("users",),
    "search": ("reservations",),
    "payments": ("bank",),
    "users": ("pdf",),
    "web": ("users", "reservations", "search", "payments", "pdf", "bank"),
}
# Processes that talk to the Temporal frontend; they, and the codec server, hold the keys
# of the payloads.
TEMPORAL_CLIENTS = frozenset({"web"} | {f"worker-{q.value}" for q in WORKERS})
# Reached from outside through the edge: the website, the authorization server's pages
# (sign-in, authorize), and the payload codec (the operators' Temporal UI, from their
# browser, with an operator's token).
EDGE = ("web", "auth", "codec")
# Besides its database URL and client secret, the shared secrets a process reads.
SECRET_READERS: Mapping[str, tuple[str, ...]] = {
    "BANK_SECRET_KEY": ("bank", "payments"),
    "BANK_PUBLISHABLE_KEY": ("bank", "web"),
    "USERS_LINK_SECRET": ("users",),
    "WEB_SESSION_SECRET": ("web",),
    "TEMPORAL_PAYLOAD_KEYS": tuple(sorted(TEMPORAL_CLIENTS | {"codec"})),
}
# Counters shared by every copy (Redis): the website's rate limits, the sign-in throttle.
# Their URLs may carry a password, so they come from the Secret too.
SHARED_COUNTERS: Mapping[str, str] = {
    "web": "WEB_RATE_LIMIT_STORAGE",
    "auth": "AUTH_SIGNIN_THROTTLE_STORAGE",
}
SENDS_MAIL = frozenset({"users"})
# The website revokes a traveller's token at AUTH_URL, the authorization server's public
# address, so its call goes out through the edge.
REACHES_EDGE = frozenset({"web"})
# Never sees a staysaga token (it takes API keys): no business with the authorization server.
NO_TOKENS = frozenset({"bank"})
# Requests and limits: the PDF renderer and the website hold the most in memory.
RESOURCES: Mapping[str, tuple[str, str]] = {"pdf": ("256Mi", "768Mi"), "web": ("256Mi", "768Mi")}
DEFAULT_MEMORY = ("192Mi", "512Mi")

# Where the platform's engines are (the overlay sets the real addresses).
TEMPORAL_FRONTEND = "temporal-frontend.temporal.svc.cluster.local:7233"
TEMPORAL_NAMESPACE_NAME = "temporal"
INGRESS_NAMESPACE = "ingress-nginx"
MONITORING_NAMESPACE = "monitoring"
POSTGRES_PORT = 5432
REDIS_PORT = 6379
SMTP_PORTS = (25, 465, 587)

# Checks of checkov's Kubernetes policies that do not fit, with why (kept on each object).
CHECKOV_SKIPS: Mapping[str, str] = {
    "CKV_K8S_35": "staysaga reads every setting, secrets included, from its environment",
    "CKV_K8S_43": "the overlay pins the image by digest (kustomize images) at release time",
}


def deployed_components() -> list[Component]:
    """The registry's components that run in the cluster, in the registry's order."""
    return [c for c in COMPONENTS.values() if c.name not in LOCAL_ONLY]


def worker_name(worker: Worker) -> str:
    """A worker's Deployment name, its OAuth client id: `worker-<queue>`."""
    return worker.client_id


def labels(name: str, role: str) -> dict[str, str]:
    return {
        "app.kubernetes.io/name": name,
        "app.kubernetes.io/part-of": "staysaga",
        "app.kubernetes.io/component": role,
    }


def selector(name: str) -> dict[str, str]:
    return {"app.kubernetes.io/name": name}


def metadata(name: str, role: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "namespace": NAMESPACE, "labels": labels(name, role), **extra}


def callers_of(name: str) -> list[str]:
    """The processes whose calls `name` accepts (besides the edge and Prometheus)."""
    callers = [c for c, callees in CALLS.items() if name in callees]
    callers += [worker_name(w) for w in WORKERS.values() if w.calls == name]
    if name == AUTH_SERVER:
        # Every process asks the authorization server for tokens and its keys.
        callers = [c.name for c in deployed_components() if c.name not in (AUTH_SERVER, *NO_TOKENS)]
        callers += [worker_name(w) for w in WORKERS.values()]
    return sorted(set(callers))


def scope_owner(scope: str) -> str | None:
    """The component whose `api.py` defines a scope (None: none of ours)."""
    for name in COMPONENTS:
        try:
            api = importlib.import_module(f"services.{name}.api")
        except ModuleNotFoundError:
            continue
        if scope in {v for v in vars(api).values() if isinstance(v, str)}:
            return name
    return None
