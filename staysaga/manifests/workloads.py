"""The workloads of the production topology: each service's and worker's ServiceAccount,
Deployment, Service and PodDisruptionBudget, the shared settings, the namespace and the
catalogue's seed Job."""

from __future__ import annotations

from typing import Any

from components.registry import AUTH_SERVER, Component, Worker, jwks_url, token_url
from staysaga.manifests.network import egress, policy
from staysaga.manifests.topology import (
    CHECKOV_SKIPS,
    CONFIG,
    DEFAULT_MEMORY,
    IMAGE,
    NAMESPACE,
    REPLICAS,
    RESOURCES,
    SECRET,
    SECRET_READERS,
    SENDS_MAIL,
    SHARED_COUNTERS,
    TEMPORAL_CLIENTS,
    TEMPORAL_FRONTEND,
    UID,
    Manifest,
    deployed_components,
    labels,
    metadata,
    selector,
    worker_name,
)
from staysaga.secrets import CLIENT_REGISTRY_VARIABLE, client_secret_variable


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
        "metadata": metadata(name, role, annotations=annotations),
        "spec": {
            "replicas": REPLICAS,
            "revisionHistoryLimit": 5,
            "selector": {"matchLabels": selector(name)},
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1},
            },
            "template": {
                "metadata": {"labels": labels(name, role), "annotations": annotations},
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
                            "labelSelector": {"matchLabels": selector(name)},
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
        "metadata": metadata(name, role),
        "automountServiceAccountToken": False,
    }


def _disruption_budget(name: str, role: str) -> Manifest:
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": metadata(name, role),
        "spec": {"minAvailable": 1, "selector": {"matchLabels": selector(name)}},
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
        "metadata": metadata(name, "service"),
        "spec": {
            "selector": selector(name),
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
        "metadata": metadata(CONFIG, "config"),
        "data": data,
    }


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
    fence = policy(name, [], egress(name, [], database=True))
    return [job, fence]
