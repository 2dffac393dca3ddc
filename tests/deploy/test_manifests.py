"""The production topology (deploy/k8s): generated from the registry and up to date, every
service and worker replicated, probed, fenced and unprivileged, no secret value in git,
every manifest valid for Kubernetes (kubernetes-validate) and free of insecure defaults
(checkov)."""

from __future__ import annotations

import contextlib
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.registry import (
    COMPONENTS,
    TEMPORAL_UI_CLIENT,
    WEBSITE_USER_AUDIENCES,
    WORKERS,
    oauth_clients,
    sign_in_clients,
)
from components.settings import generated_secrets
from services.auth.oauth_clients import CLIENTS, TEMPORAL_UI_CALLBACK_PATH
from staysaga import cluster_secrets, manifests
from staysaga.secrets import client_secret_variable
from temporal.codec_server import OPERATOR_SCOPE
from tests.deploy.tools import ROOT, checkov, kubernetes_validate, run

BASE = ROOT / "deploy" / "k8s" / "base"
JOBS = ROOT / "deploy" / "k8s" / "jobs"
OVERLAY = ROOT / "deploy" / "k8s" / "overlays" / "production"
TEMPORAL_VALUES = ROOT / "deploy" / "temporal" / "values.yaml"
PRODUCTION_CONFIG = ROOT / "deploy" / "k8s" / "overlays" / "production" / "config.yaml"
TEMPORAL_POLICIES = ROOT / "deploy" / "temporal" / "network-policies.yaml"
DEPLOY_DOC = ROOT / "docs" / "DEPLOY.md"


def documents(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def base_objects() -> list[dict[str, Any]]:
    return [d for path in sorted(BASE.glob("*.yaml")) for d in documents(path)]


def of_kind(kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in base_objects() if d["kind"] == kind}


def container(deployment: dict[str, Any]) -> dict[str, Any]:
    (found,) = deployment["spec"]["template"]["spec"]["containers"]
    return found


def env_of(deployment: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {e["name"]: e for e in container(deployment)["env"]}


def test_the_committed_base_is_what_the_registry_generates(tmp_path):
    rendered = manifests.render()
    committed = {p.name: p.read_text() for p in BASE.glob("*.yaml")}
    assert committed == rendered, "deploy/k8s/base is stale: run `python -m staysaga.manifests`"
    jobs = {p.name: p.read_text() for p in JOBS.glob("*.yaml")}
    assert jobs == manifests.render_jobs(), "deploy/k8s/jobs is stale: run the same"
    assert TEMPORAL_POLICIES.read_text() == manifests.render_temporal()


def test_every_deployed_service_runs_replicated_on_its_registry_port_with_probes():
    deployments = of_kind("Deployment")
    services = of_kind("Service")
    deployed = {c.name for c in manifests.deployed_components()}
    assert deployed == set(COMPONENTS) - manifests.LOCAL_ONLY
    for name in deployed:
        port = COMPONENTS[name].port
        spec = deployments[name]["spec"]
        assert spec["replicas"] >= 2
        box = container(deployments[name])
        assert box["args"] == ["serve", name]
        assert box["ports"] == [{"name": "http", "containerPort": port}]
        assert box["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": port}
        assert box["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": port}
        assert services[name]["spec"]["ports"][0]["port"] == port


def test_every_worker_runs_replicated_and_is_probed_on_its_health_port():
    deployments = of_kind("Deployment")
    for worker in WORKERS.values():
        name = manifests.worker_name(worker)
        assert deployments[name]["spec"]["replicas"] >= 2
        box = container(deployments[name])
        assert box["args"] == ["worker", worker.queue.value]
        probe = {"path": "/healthz", "port": worker.health_port}
        assert box["livenessProbe"]["httpGet"] == probe
        assert box["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": worker.health_port}
        assert {"name": "metrics", "containerPort": worker.metrics_port} in box["ports"]


def test_every_pod_is_unprivileged_on_a_read_only_root_with_limits():
    for name, deployment in of_kind("Deployment").items():
        pod = deployment["spec"]["template"]["spec"]
        assert pod["automountServiceAccountToken"] is False, name
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        box = container(deployment)
        security = box["securityContext"]
        assert security["allowPrivilegeEscalation"] is False, name
        assert security["readOnlyRootFilesystem"] is True, name
        assert security["capabilities"]["drop"] == ["ALL"], name
        assert security["runAsUser"] == manifests.UID, name
        for kind in ("requests", "limits"):
            assert {"cpu", "memory"} <= set(box["resources"][kind]), name


def test_each_process_gets_its_own_client_secret_and_database_and_no_secret_value():
    deployments = of_kind("Deployment")
    clients = oauth_clients()
    for name, deployment in deployments.items():
        env = env_of(deployment)
        for variable, entry in env.items():
            if variable == "STAYSAGA_CLIENT_ID":
                continue
            assert "value" not in entry, f"{name} has {variable} written in git"
            assert entry["valueFrom"]["secretKeyRef"]["name"] == manifests.SECRET
        if name in clients:
            assert env["STAYSAGA_CLIENT_ID"]["value"] == name
            key = env["STAYSAGA_CLIENT_SECRET"]["valueFrom"]["secretKeyRef"]["key"]
            assert key == client_secret_variable(name)
        databases = {v for v in env if v.endswith("_DATABASE_URL")}
        component = COMPONENTS.get(name)
        own = {f"{name.upper()}_DATABASE_URL"} if component and component.has_database else set()
        assert databases == own, f"{name} may reach another service's database"
    assert not any(d["kind"] == "Secret" for d in base_objects())


def test_every_generated_secret_reaches_exactly_the_processes_that_read_it():
    assert set(manifests.SECRET_READERS) == {v.name for v in generated_secrets()}
    deployments = of_kind("Deployment")
    for variable, readers in manifests.SECRET_READERS.items():
        holders = {name for name, d in deployments.items() if variable in env_of(d)}
        assert holders == set(readers), variable


def test_the_network_policies_let_each_process_call_what_its_scopes_name():
    # Every audience a process's client may ask a token for is a callee it can reach.
    policies = of_kind("NetworkPolicy")
    assert policies["default-deny"]["spec"] == {
        "podSelector": {},
        "policyTypes": ["Ingress", "Egress"],
    }
    needed: dict[str, set[str]] = {}
    for client, scopes in oauth_clients().items():
        owners = {manifests.scope_owner(scope) for scope in scopes}
        assert None not in owners, f"a scope of {client} belongs to no service"
        needed[client] = {o for o in owners if o is not None and o != client}
    needed["web"] |= set(WEBSITE_USER_AUDIENCES)
    for client, callees in needed.items():
        egress = policies[client]["spec"]["egress"]
        reached = {
            peer["podSelector"]["matchLabels"]["app.kubernetes.io/name"]
            for rule in egress
            for peer in rule.get("to", [])
            if "podSelector" in peer
        }
        assert callees <= reached, f"{client} cannot reach {callees - reached}"
        for callee in callees:
            ingress = policies[callee]["spec"]["ingress"]
            callers = {
                peer["podSelector"]["matchLabels"]["app.kubernetes.io/name"]
                for rule in ingress
                for peer in rule.get("from", [])
                if "podSelector" in peer
            }
            assert client in callers, f"{callee} refuses {client}"


def test_only_the_edge_components_are_reachable_from_the_ingress_controller():
    policies = of_kind("NetworkPolicy")
    for name, policy in policies.items():
        if name == "default-deny":
            continue
        from_edge = any(
            peer.get("namespaceSelector", {})
            .get("matchLabels", {})
            .get("kubernetes.io/metadata.name")
            == manifests.INGRESS_NAMESPACE
            for rule in policy["spec"]["ingress"]
            for peer in rule.get("from", [])
        )
        assert from_edge == (name in manifests.EDGE), name
    routed = {
        path["backend"]["service"]["name"]
        for ingress in of_kind("Ingress").values()
        for rule in ingress["spec"]["rules"]
        for path in rule["http"]["paths"]
    }
    assert routed == set(manifests.EDGE)


def test_the_edge_limits_body_size_and_rate_and_closes_metrics():
    ingresses = of_kind("Ingress")
    for name, ingress in ingresses.items():
        notes = ingress["metadata"]["annotations"]
        assert notes["nginx.ingress.kubernetes.io/proxy-body-size"], name
        assert int(notes["nginx.ingress.kubernetes.io/limit-rps"]) > 0, name
        assert ingress["spec"]["ingressClassName"] == "nginx"
    for name in ("www-metrics", "auth-metrics"):
        (rule,) = ingresses[name]["spec"]["rules"]
        assert [p["path"] for p in rule["http"]["paths"]] == ["/metrics"]
        notes = ingresses[name]["metadata"]["annotations"]
        assert notes["nginx.ingress.kubernetes.io/whitelist-source-range"] == "127.0.0.1/32"


def overlay_rendered(tmp_path: Path) -> Path:
    """The production overlay as kustomize renders it (kubectl's built-in kustomize)."""
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl (with its built-in kustomize) is not installed")
    result = run(kubectl, "kustomize", str(OVERLAY))
    assert result.returncode == 0, result.stderr
    path = tmp_path / "production.yaml"
    path.write_text(result.stdout)
    return path


def test_the_production_overlay_renders_with_its_addresses_and_replicas(tmp_path):
    objects = documents(overlay_rendered(tmp_path))
    config = next(o for o in objects if o["kind"] == "ConfigMap")
    assert config["data"]["AUTH_URL"].startswith("https://")
    assert config["data"]["AUTH_TOKEN_URL"].startswith("http://auth.")  # inside the cluster
    replicas = {
        o["metadata"]["name"]: o["spec"]["replicas"] for o in objects if o["kind"] == "Deployment"
    }
    assert min(replicas.values()) >= 2 and replicas["web"] >= 3


def test_every_manifest_is_valid_for_kubernetes(tmp_path):
    files = [str(p) for p in sorted(BASE.glob("*.yaml")) if p.name != "kustomization.yaml"]
    files.append(str(OVERLAY / "config.yaml"))
    files += [str(p) for p in sorted(JOBS.glob("*.yaml"))]
    files.append(str(TEMPORAL_POLICIES))
    with contextlib.suppress(pytest.skip.Exception):
        files.append(str(overlay_rendered(tmp_path)))
    result = run(kubernetes_validate(), "--strict", "--quiet", *files)
    assert result.returncode == 0, result.stdout + result.stderr


def test_kubernetes_validate_reports_a_field_kubernetes_does_not_know(tmp_path):
    deployment = of_kind("Deployment")["search"]
    container(deployment)["replicas"] = 2  # a Deployment's field, misplaced
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(deployment))
    result = run(kubernetes_validate(), "--strict", "--quiet", str(bad))
    assert result.returncode != 0
    assert "replicas" in result.stdout + result.stderr


def checkov_failures(directory: Path) -> tuple[int, str]:
    result = run(
        checkov(),
        "--directory",
        str(directory),
        "--framework",
        "kubernetes",
        "--compact",
        "--quiet",
        "--skip-download",
        "--output",
        "cli",
    )
    return result.returncode, result.stdout + result.stderr


def test_checkov_finds_no_insecure_default_in_the_topology(tmp_path):
    (tmp_path / "base").mkdir()
    for path in [*BASE.glob("*.yaml"), *JOBS.glob("*.yaml"), TEMPORAL_POLICIES]:
        if path.name != "kustomization.yaml":
            shutil.copy(path, tmp_path / "base" / f"{path.parent.name}-{path.name}")
    with contextlib.suppress(pytest.skip.Exception):
        shutil.copy(overlay_rendered(tmp_path), tmp_path / "base" / "production.yaml")
    status, output = checkov_failures(tmp_path / "base")
    assert status == 0, output
    assert "Passed checks" in output and "Failed checks: 0" in output


def test_checkov_reports_a_privileged_root_pod(tmp_path):
    deployment = of_kind("Deployment")["search"]
    pod = deployment["spec"]["template"]["spec"]
    pod["securityContext"] = {"runAsUser": 0}
    container(deployment)["securityContext"] = {"privileged": True}
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "search.yaml").write_text(yaml.safe_dump(deployment))
    status, output = checkov_failures(tmp_path / "bad")
    assert status != 0
    assert "CKV_K8S_16" in output  # privileged container


def test_the_temporal_cluster_is_the_official_chart_on_postgresql_with_an_oidc_ui():
    text = TEMPORAL_VALUES.read_text()
    values = yaml.safe_load(text)
    assert "helm install temporal temporal/temporal" in text  # the upstream chart, named
    stores = values["server"]["config"]["persistence"]["datastores"]
    for store in ("default", "visibility"):
        sql = stores[store]["sql"]
        assert sql["pluginName"].startswith("postgres")
        assert "password" not in sql and sql["existingSecret"]
    (namespace,) = values["server"]["config"]["namespaces"]["namespace"]
    config = manifests.config_manifest()["data"]
    assert namespace["name"] == config["TEMPORAL_NAMESPACE"]
    assert config["TEMPORAL_ADDRESS"].startswith("temporal-frontend.temporal.")
    ui = {e["name"]: e.get("value") for e in values["web"]["additionalEnv"]}
    assert ui["TEMPORAL_AUTH_ENABLED"] == "true" and ui["TEMPORAL_AUTH_TYPE"] == "oidc"
    assert "TEMPORAL_AUTH_CLIENT_SECRET" not in ui  # from the platform's Secret
    assert values["web"]["additionalEnvSecretName"]
    assert ui["TEMPORAL_CODEC_ENDPOINT"].endswith("/codec")
    assert values["server"]["replicaCount"] >= 2 and values["web"]["replicaCount"] >= 2


def test_the_temporal_ui_signs_operators_in_with_staysagas_own_provider():
    values = yaml.safe_load(TEMPORAL_VALUES.read_text())
    ui = {e["name"]: e.get("value") for e in values["web"]["additionalEnv"]}
    production = yaml.safe_load(PRODUCTION_CONFIG.read_text())["data"]
    # The issuer the authorization server announces (AUTH_ISSUER defaults to AUTH_URL).
    assert ui["TEMPORAL_AUTH_ISSUER_URL"] == production["AUTH_URL"]
    assert ui["TEMPORAL_AUTH_PROVIDER_URL"] == production["AUTH_URL"]
    assert ui["TEMPORAL_AUTH_CLIENT_ID"] == TEMPORAL_UI_CLIENT
    # The one redirect URI the authorization server accepts for it by default.
    callback = production["TEMPORAL_UI_URL"] + TEMPORAL_UI_CALLBACK_PATH
    assert ui["TEMPORAL_AUTH_CALLBACK_URL"] == callback
    scopes = set(ui["TEMPORAL_AUTH_SCOPES"].split(","))
    # openid for the sign-in, ops:read for the codec server; nothing the client may not ask.
    assert {"openid", OPERATOR_SCOPE} <= scopes
    spec = CLIENTS[TEMPORAL_UI_CLIENT]
    assert scopes <= spec.user_scopes | spec.role_only_scopes()
    assert ui["TEMPORAL_CODEC_PASS_ACCESS_TOKEN"] == "true"


def secret_keys() -> set[str]:
    """Every key of the Secret a Deployment or a Job refers to."""
    objects = base_objects() + [d for p in JOBS.glob("*.yaml") for d in documents(p)]
    return {
        ref["valueFrom"]["secretKeyRef"]["key"]
        for o in objects
        if o["kind"] in ("Deployment", "Job")
        for ref in env_of(o).values()
        if "valueFrom" in ref
    }


def test_the_secret_file_holds_every_key_the_pods_refer_to(tmp_path):
    generated = cluster_secrets.generated_values()
    # The sign-in clients' secrets are for the applications that sign in (the Temporal UI's
    # Secret, docs/DEPLOY.md): no pod of staysaga's refers to them.
    handed_on = {client_secret_variable(c) for c in sign_in_clients()}
    assert set(generated) | set(cluster_secrets.platform_keys()) == secret_keys() | handed_on
    registry = json.loads(generated["AUTH_CLIENT_SECRETS"])
    assert set(registry) == set(oauth_clients()) | set(sign_in_clients())
    for client, secret in registry.items():
        assert generated[client_secret_variable(client)] == secret
    path = tmp_path / "staysaga.env"
    assert cluster_secrets.main([str(path)]) == 0
    assert path.stat().st_mode & 0o777 == 0o600
    lines = path.read_text().splitlines()
    filled = {line.partition("=")[0] for line in lines if line and not line.startswith("#")}
    assert filled == set(generated)
    assert cluster_secrets.main([str(path)]) == 2  # never overwritten


def test_the_temporal_frontend_answers_only_the_processes_that_are_its_clients():
    frontend, ui = documents(TEMPORAL_POLICIES)
    allowed = {
        name
        for rule in frontend["spec"]["ingress"]
        for peer in rule.get("from", [])
        for expression in peer.get("podSelector", {}).get("matchExpressions", [])
        for name in expression["values"]
    }
    policies = of_kind("NetworkPolicy")
    reaching = {
        name
        for name, policy in policies.items()
        for rule in policy["spec"].get("egress", [])
        for peer in rule.get("to", [])
        if peer.get("namespaceSelector", {})
        .get("matchLabels", {})
        .get("kubernetes.io/metadata.name")
        == manifests.TEMPORAL_NAMESPACE_NAME
    }
    assert allowed == reaching == set(manifests.TEMPORAL_CLIENTS)
    assert ui["spec"]["podSelector"]["matchLabels"]["app.kubernetes.io/component"] == "web"


def test_the_deploy_guide_names_every_key_of_the_secret():
    keys = secret_keys()
    guide = DEPLOY_DOC.read_text()
    missing = sorted(k for k in keys if k not in guide)
    assert not missing, f"docs/DEPLOY.md does not say how to make {missing}"
