"""The production topology's fences and doors: the namespace's NetworkPolicies (the trust
planes: who may call whom), the edge's Ingresses (ingress-nginx), and the policies beside
the Temporal chart."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from components.registry import AUTH_SERVER, COMPONENTS, WORKERS
from staysaga.manifests.topology import (
    CALLS,
    EDGE,
    INGRESS_NAMESPACE,
    MONITORING_NAMESPACE,
    NAMESPACE,
    NO_TOKENS,
    POSTGRES_PORT,
    REACHES_EDGE,
    REDIS_PORT,
    SENDS_MAIL,
    SHARED_COUNTERS,
    SMTP_PORTS,
    TEMPORAL_CLIENTS,
    TEMPORAL_NAMESPACE_NAME,
    Manifest,
    callers_of,
    deployed_components,
    metadata,
    selector,
    worker_name,
)


def _peer(name: str) -> dict[str, Any]:
    return {"podSelector": {"matchLabels": selector(name)}}


def _namespace_peer(namespace: str) -> dict[str, Any]:
    return {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": namespace}}}


def policy(pod: str, ingress: list[Any], egress: list[Any]) -> Manifest:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": metadata(pod, "network-policy"),
        "spec": {
            "podSelector": {"matchLabels": selector(pod)},
            "policyTypes": ["Ingress", "Egress"],
            "ingress": ingress,
            "egress": egress,
        },
    }


def _tcp(*ports: int) -> list[dict[str, Any]]:
    return [{"protocol": "TCP", "port": port} for port in ports]


def egress(name: str, calls: Iterable[str], database: bool) -> list[dict[str, Any]]:
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
        "metadata": metadata("default-deny", "network-policy"),
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
        policies.append(policy(name, ingress, egress(name, calls, component.has_database)))
    for worker in WORKERS.values():
        name = worker_name(worker)
        ingress = [{"from": [monitoring], "ports": _tcp(worker.metrics_port)}]
        calls = [AUTH_SERVER] + ([worker.calls] if worker.calls else [])
        policies.append(policy(name, ingress, egress(name, calls, database=False)))
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
        "metadata": metadata(name, "edge", annotations=annotations),
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


def temporal_policies() -> list[Manifest]:
    """NetworkPolicies for the Temporal chart's pods (namespace `temporal`): its frontend
    answers only Temporal's own pods, staysaga's Temporal clients and Prometheus; its web
    UI only the edge and Temporal's own pods."""

    def chart_policy(component: str, ingress: list[Any]) -> Manifest:
        pods = {"app.kubernetes.io/name": "temporal", "app.kubernetes.io/component": component}
        return {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": {"name": f"temporal-{component}", "namespace": TEMPORAL_NAMESPACE_NAME},
            "spec": {
                "podSelector": {"matchLabels": pods},
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
        chart_policy(
            "frontend",
            [
                own,
                {"from": [clients], "ports": _tcp(7233)},
                {"from": [_namespace_peer(MONITORING_NAMESPACE)], "ports": _tcp(9090)},
            ],
        ),
        chart_policy(
            "web", [own, {"from": [_namespace_peer(INGRESS_NAMESPACE)], "ports": _tcp(8080)}]
        ),
    ]
