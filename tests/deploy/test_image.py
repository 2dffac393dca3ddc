"""The container image, from its definition: hadolint's lint, and the contract the manifests
and docs/DEPLOY.md rely on (one image, the role chosen by the command, non-root, small, a
health check for services and workers alike). No image is built here: no daemon, no
registry; the definition is what can be checked."""

from __future__ import annotations

import json
import re
import shlex
import tomllib
from dataclasses import dataclass

import pytest

from components.registry import COMPONENTS, WORKERS
from staysaga import manifests
from staysaga.cli import build_parser
from tests.deploy.tools import ROOT, hadolint, run

DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"


@dataclass
class Instruction:
    """One Dockerfile instruction, continuation lines joined."""

    keyword: str
    argument: str


def instructions(text: str) -> list[Instruction]:
    """The instructions of a Dockerfile, comments dropped, continuations joined."""
    found: list[Instruction] = []
    pending = ""
    for line in text.splitlines():
        stripped = line.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if stripped.startswith("#"):
            continue
        pending += " " + stripped.removesuffix("\\").strip()
        if stripped.endswith("\\"):
            continue
        keyword, _, argument = pending.strip().partition(" ")
        found.append(Instruction(keyword.upper(), argument.strip()))
        pending = ""
    return found


def stages(text: str) -> dict[str, list[Instruction]]:
    """Stage name -> its instructions (FROM first)."""
    found: dict[str, list[Instruction]] = {}
    current: list[Instruction] | None = None
    for instruction in instructions(text):
        if instruction.keyword == "FROM":
            name = (
                instruction.argument.split(" AS ")[-1].strip()
                if " AS " in (instruction.argument)
                else str(len(found))
            )
            current = found.setdefault(name, [])
        if current is not None:
            current.append(instruction)
    return found


def final_stage() -> list[Instruction]:
    return list(stages(DOCKERFILE.read_text()).values())[-1]


def only(stage: list[Instruction], keyword: str) -> Instruction:
    found = [i for i in stage if i.keyword == keyword]
    assert len(found) == 1, f"the final stage has {len(found)} {keyword} instructions"
    return found[0]


def test_hadolint_finds_nothing_in_the_dockerfile():
    result = run(hadolint(), "--no-color", str(DOCKERFILE))
    assert result.returncode == 0, result.stdout + result.stderr


def test_hadolint_runs_here_and_reports_a_bad_dockerfile(tmp_path):
    # The lint above means something only if hadolint works offline and fails on faults.
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN apt-get install gcc\nUSER root\n")
    result = run(hadolint(), "--no-color", str(bad))
    assert result.returncode != 0
    assert "DL3007" in result.stdout  # the `latest` tag
    assert "DL3002" in result.stdout  # the last USER is root


def test_the_image_runs_as_an_unprivileged_user_the_manifests_name():
    user = only(final_stage(), "USER").argument
    uid, _, gid = user.partition(":")
    assert uid.isdigit() and int(uid) != 0, "USER must be a numeric, non-root uid"
    assert int(uid) == manifests.UID and int(gid or uid) == manifests.UID


def test_the_entrypoint_is_the_staysaga_command():
    entrypoint = json.loads(only(final_stage(), "ENTRYPOINT").argument)
    assert entrypoint == ["staysaga"]
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["staysaga"] == "staysaga.cli:main"


def test_the_health_check_asks_the_role_s_own_health_endpoint():
    healthcheck = only(final_stage(), "HEALTHCHECK").argument
    options, _, command = healthcheck.partition("CMD ")
    assert json.loads(command) == ["python", "-m", "staysaga.healthcheck"]
    assert "--interval=" in options and "--timeout=" in options


def test_the_final_stage_is_the_slim_base_with_the_built_environment_only():
    text = DOCKERFILE.read_text()
    base = re.search(r"^ARG PYTHON_IMAGE=(\S+)$", text, re.M)
    assert base is not None and "-slim" in base.group(1)
    stage = final_stage()
    assert stage[0].argument.startswith("${PYTHON_IMAGE}")
    copies = [i.argument for i in stage if i.keyword == "COPY"]
    assert copies == ["--from=build /opt/staysaga /opt/staysaga"]
    runs = " ".join(i.argument for i in stage if i.keyword == "RUN")
    for tool in ("apt-get", "pip ", "gcc", "build-essential", "curl", "wget"):
        assert tool not in runs, f"the final stage runs {tool}"


def test_the_image_listens_beyond_loopback_and_talks_to_a_real_temporal():
    env = " ".join(i.argument for i in final_stage() if i.keyword == "ENV")
    assert "STAYSAGA_HOST=0.0.0.0" in env  # a pod's port is reached from other pods
    # No dev server in a container: the codec server then asks for an operator's token.
    assert "TEMPORAL_DEV_SERVER=false" in env


def test_every_package_the_project_installs_is_copied_and_let_through_the_ignore_file():
    include = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"][
        "packages"
    ]["find"]["include"]
    packages = {pattern.removesuffix("*") for pattern in include}
    build = stages(DOCKERFILE.read_text())["build"]
    copied = {shlex.split(i.argument)[0] for i in build if i.keyword == "COPY"}
    ignore = {
        line.strip().removeprefix("!").rstrip("/") for line in DOCKERIGNORE.read_text().splitlines()
    }
    for package in packages:
        assert package in copied, f"the build stage does not copy {package}/"
        assert package in ignore, f".dockerignore keeps {package}/ out of the build context"
    assert "*" in ignore, ".dockerignore lets in only what it names"


def documented_roles() -> str:
    """The Dockerfile's opening comment, where every role's command is listed."""
    head = []
    for line in DOCKERFILE.read_text().splitlines():
        if line.startswith("#"):
            head.append(line)
        elif line.strip():
            break
    return "\n".join(head)


@pytest.mark.parametrize("component", sorted(COMPONENTS))
def test_every_component_is_startable_by_a_documented_command(component):
    assert build_parser().parse_args(["serve", component]).component == [component]
    assert re.search(rf"\b{component}\b", documented_roles()), (
        f"the Dockerfile does not say how to start {component}"
    )


@pytest.mark.parametrize("queue", sorted(q.value for q in WORKERS))
def test_every_worker_is_startable_by_a_documented_command(queue):
    assert build_parser().parse_args(["worker", queue]).queue == queue
    assert re.search(rf"\b{queue}\b", documented_roles().split("worker <queue>")[1])


def exposed_ports() -> set[int]:
    ports: set[int] = set()
    for instruction in final_stage():
        if instruction.keyword != "EXPOSE":
            continue
        for word in instruction.argument.split():
            low, _, high = word.partition("-")
            ports.update(range(int(low), int(high or low) + 1))
    return ports


def test_the_image_exposes_every_deployed_role_s_ports():
    wanted = {c.port for c in manifests.deployed_components()}
    wanted |= {w.health_port for w in WORKERS.values()}
    wanted |= {w.metrics_port for w in WORKERS.values()}
    assert wanted <= exposed_ports()
