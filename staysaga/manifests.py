"""The production topology's Kubernetes manifests, generated from the component registry.

`python -m staysaga.manifests` writes `deploy/k8s/base/` (a kustomize base): for every
service a ServiceAccount, a Deployment of N replicas, a Service and a PodDisruptionBudget;
for every worker the same without a Service; the namespace's NetworkPolicies (the trust
planes: who may call whom), the edge's Ingresses (ingress-nginx) and the shared, non-secret
settings. Beside it, `deploy/k8s/jobs/seed.yaml` (the catalogue, loaded once) and
`deploy/temporal/network-policies.yaml` (who may reach the Temporal chart's frontend).
Ports, probes, OAuth client ids and databases come from `components/registry.py`,
so a component added there is deployed, reachable and fenced off alike; the test suite
checks that the committed files are what this module generates. Nothing secret is written:
every secret is a reference to the Secret `staysaga` the platform creates (docs/DEPLOY.md).
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from components.registry import (
    AUTH_SERVER,
    COMPONENTS,
    WORKERS,
    Component,
    Worker,
    jwks_url,
    token_url,
)
from staysaga.secrets import CLIENT_REGISTRY_VARIABLE, client_secret_variable

Manifest = dict[str, Any]

NAMESPACE = "staysaga"
IMAGE = "registry.staysaga.example/staysaga:0.1.0"
SECRET = "staysaga"  # noqa: S105 - the name of the platform's Secret
CONFIG = "staysaga-config"
REPLICAS = 2
UID = 10001
DEPLOY_DIR = Path(__file__).resolve().parent.parent / "deploy" / "k8s"

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


def _labels(name: str, role: str) -> dict[str, str]:
    return {
        "app.kubernetes.io/name": name,
        "app.kubernetes.io/part-of": "staysaga",
        "app.kubernetes.io/component": role,
    }


def _selector(name: str) -> dict[str, str]:
    return {"app.kubernetes.io/name": name}


def _metadata(name: str, role: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "namespace": NAMESPACE, "labels": _labels(name, role), **extra}


def _secret_env(variable: str, key: str | None = None, optional: bool = False) -> dict[str, Any]:
    ref: dict[str, Any] = {"name": SECRET, "key": key or variable}
    if optional:
        ref["optional"] = True
    return {"name": variable, "valueFrom": {"secretKeyRef": ref}}


def _env(name: str, client_id: str | None, database: bool) -> list[dict[str, Any]]:
    env: list[dict[str, Any]] = []
    if client_id is not None:
        env.append({"name": "STAYSAGA_CLIENT_ID", "value": client_id})
        env.append(_secret_env("STAYSAGA_CLIENT_SECRET", client_secret_variable(client_id)))
    if database:
        env.append(_secret_env(f"{name.upper()}_DATABASE_URL"))
    if name == AUTH_SERVER:
        env.append(_secret_env(CLIENT_REGISTRY_VARIABLE))
    if name in SHARED_COUNTERS:
        env.append(_secret_env(SHARED_COUNTERS[name]))
    for variable, readers in SECRET_READERS.items():
        if name in readers:
            env.append(_secret_env(variable))
    if name in TEMPORAL_CLIENTS:
        # Temporal Cloud's API key, where the cluster is Temporal Cloud's.
        env.append(_secret_env("TEMPORAL_API_KEY", optional=True))
    if name in SENDS_MAIL:
        # A relay that takes mail without a login needs neither.
        env += [
            _secret_env("SMTP_USERNAME", optional=True),
            _secret_env("SMTP_PASSWORD", optional=True),
        ]
    return env


def _probe(path: str, port: int, period: int, failures: int) -> dict[str, Any]:
    return {
        "httpGet": {"path": path, "port": port},
        "periodSeconds": period,
        "timeoutSeconds": 2,
        "failureThreshold": failures,
    }


def _container(
    name: str, args: list[str], ports: list[tuple[str, int]], health_port: int, env: list[Any]
) -> dict[str, Any]:
    memory = RESOURCES.get(name, DEFAULT_MEMORY)
    return {
        "name": name,
        "image": IMAGE,
        "imagePullPolicy": "Always",
        "args": args,
        "ports": [{"name": port_name, "containerPort": port} for port_name, port in ports],
        "envFrom": [{"configMapRef": {"name": CONFIG}}],
        "env": env,
        # Migrations run at start (serialised by a lock): give them time before liveness.
        "startupProbe": _probe("/healthz", health_port, 2, 60),
        "livenessProbe": _probe("/healthz", health_port, 10, 3),
        "readinessProbe": _probe("/readyz", health_port, 5, 2),
        "resources": {
            "requests": {"cpu": "100m", "memory": memory[0]},
            "limits": {"cpu": "1", "memory": memory[1]},
        },
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "privileged": False,
            "readOnlyRootFilesystem": True,
            "runAsNonRoot": True,
            "runAsUser": UID,
            "runAsGroup": UID,
            "capabilities": {"drop": ["ALL"]},
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],  # noqa: S108 - a pod's own
    }


def _deployment(name: str, role: str, container: dict[str, Any]) -> Manifest:
    annotations = {
        f"checkov.io/skip{i}": f"{check}={why}"
        for i, (check, why) in enumerate(CHECKOV_SKIPS.items(), start=1)
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": _metadata(name, role, annotations=annotations),
        "spec": {
            "replicas": REPLICAS,
            "revisionHistoryLimit": 5,
            "selector": {"matchLabels": _selector(name)},
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1},
            },
            "template": {
                "metadata": {"labels": _labels(name, role), "annotations": annotations},
                "spec": {
                    "serviceAccountName": name,
                    "automountServiceAccountToken": False,
                    "enableServiceLinks": False,
                    "terminationGracePeriodSeconds": 60,
                    "securityContext": {
                        "runAsNonRoot": True,
                        "runAsUser": UID,
                        "runAsGroup": UID,
                        "fsGroup": UID,
                        "seccompProfile": {"type": "RuntimeDefault"},
                    },
                    # Copies on different nodes, so one node lost leaves the others serving.
                    "topologySpreadConstraints": [
                        {
                            "maxSkew": 1,
                            "topologyKey": "kubernetes.io/hostname",
                            "whenUnsatisfiable": "ScheduleAnyway",
                            "labelSelector": {"matchLabels": _selector(name)},
                        }
                    ],
                    "containers": [container],
                    "volumes": [{"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}}],
                },
            },
        },
    }


def _service_account(name: str, role: str) -> Manifest:
    return {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": _metadata(name, role),
        "automountServiceAccountToken": False,
    }


def _disruption_budget(name: str, role: str) -> Manifest:
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": _metadata(name, role),
        "spec": {"minAvailable": 1, "selector": {"matchLabels": _selector(name)}},
    }


def component_manifests(component: Component) -> list[Manifest]:
    """A service: its ServiceAccount, Deployment, Service and PodDisruptionBudget."""
    name = component.name
    client_id = name if component.scopes is not None else None
    container = _container(
        name,
        ["serve", name],
        [("http", component.port)],
        component.port,
        _env(name, client_id, component.has_database),
    )
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _metadata(name, "service"),
        "spec": {
            "selector": _selector(name),
            "ports": [{"name": "http", "port": component.port, "targetPort": "http"}],
        },
    }
    return [
        _service_account(name, "service"),
        _deployment(name, "service", container),
        service,
        _disruption_budget(name, "service"),
    ]


def worker_manifests(worker: Worker) -> list[Manifest]:
    """A worker: its ServiceAccount, Deployment and PodDisruptionBudget."""
    name = worker_name(worker)
    container = _container(
        name,
        ["worker", worker.queue.value],
        [("health", worker.health_port), ("metrics", worker.metrics_port)],
        worker.health_port,
        _env(name, worker.client_id, database=False),
    )
    return [
        _service_account(name, "worker"),
        _deployment(name, "worker", container),
        _disruption_budget(name, "worker"),
    ]


def config_manifest() -> Manifest:
    """The settings every process shares that are not secret; the overlay adds the public
    addresses (AUTH_URL, WEB_URL, ...) and the engines' real addresses."""
    data = {
        "STAYSAGA_LOG_FORMAT": "json",
        "TEMPORAL_ADDRESS": TEMPORAL_FRONTEND,
        "TEMPORAL_NAMESPACE": "staysaga",
        "TEMPORAL_DEV_SERVER": "false",
    }
    for component in deployed_components():
        internal = f"http://{component.name}.{NAMESPACE}.svc.cluster.local:{component.port}"
        data[f"{component.name.upper()}_URL"] = internal
        if component.name == AUTH_SERVER:
            # Browsers reach the authorization server at its public AUTH_URL (overlay);
            # the processes fetch tokens and keys inside the cluster.
            data["AUTH_TOKEN_URL"] = token_url(internal)
            data["AUTH_JWKS_URL"] = jwks_url(internal)
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": _metadata(CONFIG, "config"),
        "data": data,
    }


def _peer(name: str) -> dict[str, Any]:
    return {"podSelector": {"matchLabels": _selector(name)}}


def _namespace_peer(namespace: str) -> dict[str, Any]:
    return {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": namespace}}}


def _policy(pod: str, ingress: list[Any], egress: list[Any]) -> Manifest:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": _metadata(pod, "network-policy"),
        "spec": {
            "podSelector": {"matchLabels": _selector(pod)},
            "policyTypes": ["Ingress", "Egress"],
            "ingress": ingress,
            "egress": egress,
        },
    }


def _tcp(*ports: int) -> list[dict[str, Any]]:
    return [{"protocol": "TCP", "port": port} for port in ports]


def callers_of(name: str) -> list[str]:
    """The processes whose calls `name` accepts (besides the edge and Prometheus)."""
    callers = [c for c, callees in CALLS.items() if name in callees]
    callers += [worker_name(w) for w in WORKERS.values() if w.calls == name]
    if name == AUTH_SERVER:
        # Every process asks the authorization server for tokens and its keys.
        callers = [c.name for c in deployed_components() if c.name not in (AUTH_SERVER, *NO_TOKENS)]
        callers += [worker_name(w) for w in WORKERS.values()]
    return sorted(set(callers))


def _egress(name: str, calls: Iterable[str], database: bool) -> list[dict[str, Any]]:
    dns = {
        "to": [_namespace_peer("kube-system")],
        "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}],
    }
    rules: list[dict[str, Any]] = [dns]
    for callee in sorted(set(calls)):
        rules.append({"to": [_peer(callee)], "ports": _tcp(COMPONENTS[callee].port)})
    if name in REACHES_EDGE:
        rules.append({"to": [_namespace_peer(INGRESS_NAMESPACE)], "ports": _tcp(443)})
    if name in TEMPORAL_CLIENTS:
        rules.append({"to": [_namespace_peer(TEMPORAL_NAMESPACE_NAME)], "ports": _tcp(7233)})
    # The platform's PostgreSQL, Redis and SMTP relay live outside the namespace (managed
    # services or their own namespaces): by port here, by address in the overlay if needed.
    if database:
        rules.append({"ports": _tcp(POSTGRES_PORT)})
    if name in SHARED_COUNTERS:
        rules.append({"ports": _tcp(REDIS_PORT)})
    if name in SENDS_MAIL:
        rules.append({"ports": _tcp(*SMTP_PORTS)})
    return rules


def network_policies() -> list[Manifest]:
    """Deny everything by default, then open each process's calls: the trust planes."""
    deny: Manifest = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": _metadata("default-deny", "network-policy"),
        "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]},
    }
    policies = [deny]
    monitoring = _namespace_peer(MONITORING_NAMESPACE)
    for component in deployed_components():
        name = component.name
        ingress: list[dict[str, Any]] = []
        callers = callers_of(name)
        if callers:
            ingress.append({"from": [_peer(c) for c in callers], "ports": _tcp(component.port)})
        if name in EDGE:
            ingress.append(
                {"from": [_namespace_peer(INGRESS_NAMESPACE)], "ports": _tcp(component.port)}
            )
        ingress.append({"from": [monitoring], "ports": _tcp(component.port)})
        calls = [] if name in (AUTH_SERVER, *NO_TOKENS) else [AUTH_SERVER]
        calls += CALLS.get(name, ())
        policies.append(_policy(name, ingress, _egress(name, calls, component.has_database)))
    for worker in WORKERS.values():
        name = worker_name(worker)
        ingress = [{"from": [monitoring], "ports": _tcp(worker.metrics_port)}]
        calls = [AUTH_SERVER] + ([worker.calls] if worker.calls else [])
        policies.append(_policy(name, ingress, _egress(name, calls, database=False)))
    return policies


def _ingress(name: str, host_key: str, paths: list[tuple[str, str, str]], **notes: str) -> Manifest:
    annotations = {
        # ingress-nginx: the request size, per-address rates and connections at the edge;
        # the website's own per-session and per-account limits sit behind these.
        "nginx.ingress.kubernetes.io/proxy-body-size": "1m",
        "nginx.ingress.kubernetes.io/limit-rps": "20",
        "nginx.ingress.kubernetes.io/limit-burst-multiplier": "5",
        "nginx.ingress.kubernetes.io/limit-connections": "50",
        "nginx.ingress.kubernetes.io/ssl-redirect": "true",
        "nginx.ingress.kubernetes.io/force-ssl-redirect": "true",
        "nginx.ingress.kubernetes.io/proxy-read-timeout": "660",
        **notes,
    }
    host = f"{host_key}.staysaga.example"
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": _metadata(name, "edge", annotations=annotations),
        "spec": {
            "ingressClassName": "nginx",
            "tls": [{"hosts": [host], "secretName": f"{host_key}-tls"}],
            "rules": [
                {
                    "host": host,
                    "http": {
                        "paths": [
                            {
                                "path": path,
                                "pathType": kind,
                                "backend": {
                                    "service": {
                                        "name": service,
                                        "port": {"number": COMPONENTS[service].port},
                                    }
                                },
                            }
                            for path, kind, service in paths
                        ]
                    },
                }
            ],
        },
    }


def ingresses() -> list[Manifest]:
    """The edge (ingress-nginx): the website, the sign-in pages, the operators' codec."""
    closed = {"nginx.ingress.kubernetes.io/whitelist-source-range": "127.0.0.1/32"}
    return [
        # The booking page follows a booking over server-sent events: unbuffered.
        _ingress(
            "www",
            "www",
            [("/", "Prefix", "web")],
            **{"nginx.ingress.kubernetes.io/proxy-buffering": "off"},
        ),
        _ingress("auth", "auth", [("/", "Prefix", "auth")]),
        # Processes' /metrics are for Prometheus inside the cluster: closed at the edge.
        _ingress("www-metrics", "www", [("/metrics", "Exact", "web")], **closed),
        _ingress("auth-metrics", "auth", [("/metrics", "Exact", "auth")], **closed),
        # Only the codec routes: the operators' browsers call them from the Temporal UI.
        _ingress("codec", "temporal", [("/codec", "Prefix", "codec")]),
    ]


def namespace_manifest() -> Manifest:
    """The namespace, under the restricted Pod Security Standard."""
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {
            "name": NAMESPACE,
            "labels": {
                "pod-security.kubernetes.io/enforce": "restricted",
                "pod-security.kubernetes.io/enforce-version": "latest",
            },
        },
    }


def temporal_policies() -> list[Manifest]:
    """NetworkPolicies for the Temporal chart's pods (namespace `temporal`): its frontend
    answers only Temporal's own pods, staysaga's Temporal clients and Prometheus; its web
    UI only the edge and Temporal's own pods."""

    def policy(component: str, ingress: list[Any]) -> Manifest:
        selector = {"app.kubernetes.io/name": "temporal", "app.kubernetes.io/component": component}
        return {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": {"name": f"temporal-{component}", "namespace": TEMPORAL_NAMESPACE_NAME},
            "spec": {
                "podSelector": {"matchLabels": selector},
                "policyTypes": ["Ingress"],
                "ingress": ingress,
            },
        }

    own: dict[str, Any] = {"from": [{"podSelector": {}}]}
    clients = {
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": NAMESPACE}},
        "podSelector": {
            "matchExpressions": [
                {
                    "key": "app.kubernetes.io/name",
                    "operator": "In",
                    "values": sorted(TEMPORAL_CLIENTS),
                }
            ]
        },
    }
    return [
        policy(
            "frontend",
            [
                own,
                {"from": [clients], "ports": _tcp(7233)},
                {"from": [_namespace_peer(MONITORING_NAMESPACE)], "ports": _tcp(9090)},
            ],
        ),
        policy("web", [own, {"from": [_namespace_peer(INGRESS_NAMESPACE)], "ports": _tcp(8080)}]),
    ]


def seed_job() -> list[Manifest]:
    """A Job that loads the demo catalogue (`staysaga seed`) into Search and Reservations,
    run once on a fresh cluster, and the NetworkPolicy that lets it reach PostgreSQL only."""
    name = "seed"
    env = [_secret_env("SEARCH_DATABASE_URL"), _secret_env("RESERVATIONS_DATABASE_URL")]
    box = _container(name, ["seed"], [], 0, env)
    for key in ("ports", "startupProbe", "livenessProbe", "readinessProbe"):
        del box[key]
    deployment = _deployment(name, "job", box)
    template = deployment["spec"]["template"]
    del template["spec"]["serviceAccountName"]
    del template["spec"]["topologySpreadConstraints"]
    template["spec"]["restartPolicy"] = "Never"
    job = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": deployment["metadata"],
        "spec": {"backoffLimit": 3, "ttlSecondsAfterFinished": 86400, "template": template},
    }
    policy = _policy(name, [], _egress(name, [], database=True))
    return [job, policy]


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


def files() -> dict[str, list[Manifest]]:
    """File name -> the manifests in it, for the kustomize base."""
    found: dict[str, list[Manifest]] = {
        "namespace.yaml": [namespace_manifest()],
        "config.yaml": [config_manifest()],
    }
    for component in deployed_components():
        found[f"{component.name}.yaml"] = component_manifests(component)
    for worker in WORKERS.values():
        found[f"{worker_name(worker)}.yaml"] = worker_manifests(worker)
    found["network-policies.yaml"] = network_policies()
    found["ingress.yaml"] = ingresses()
    return found


HEADER = "# Generated by `python -m staysaga.manifests` from components/registry.py: do not edit.\n"


def _dump(docs: list[Manifest]) -> str:
    import yaml

    class Dumper(yaml.SafeDumper):
        """Writes a repeated mapping out in full: anchors would puzzle a reader."""

        def ignore_aliases(self, data: Any) -> bool:
            return True

    return HEADER + yaml.dump_all(docs, Dumper=Dumper, sort_keys=False, width=100)


def render_jobs() -> dict[str, str]:
    """The one-off Jobs (deploy/k8s/jobs), applied by hand: file name -> YAML text."""
    return {"seed.yaml": _dump(seed_job())}


def render() -> dict[str, str]:
    """File name -> its YAML text, kustomization.yaml included."""
    import yaml

    rendered = {name: _dump(docs) for name, docs in files().items()}
    kustomization = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": list(rendered),
    }
    rendered["kustomization.yaml"] = HEADER + yaml.safe_dump(kustomization, sort_keys=False)
    return rendered


def _write(directory: Path, rendered: dict[str, str]) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    for stale in directory.glob("*.yaml"):
        if stale.name not in rendered:
            stale.unlink()
    written = []
    for name, text in rendered.items():
        path = directory / name
        path.write_text(text)
        written.append(path)
    return written


def render_temporal() -> str:
    """deploy/temporal/network-policies.yaml, applied beside the Temporal chart."""
    return _dump(temporal_policies())


def write(directory: Path = DEPLOY_DIR) -> list[Path]:
    """Write base/, jobs/ and Temporal's policies, removing files a removed component left;
    returns what it wrote."""
    written = _write(directory / "base", render()) + _write(directory / "jobs", render_jobs())
    temporal = directory.parent / "temporal" / "network-policies.yaml"
    temporal.parent.mkdir(parents=True, exist_ok=True)
    temporal.write_text(render_temporal())
    return [*written, temporal]


if __name__ == "__main__":
    for path in write(Path(sys.argv[1]) / "k8s" if len(sys.argv) > 1 else DEPLOY_DIR):
        print(path)
