"""The alert rules of ops/prometheus: their own promtool tests, and the configuration
`staysaga up` generates for Prometheus, checked by promtool (Debian's prometheus package)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from services.payments.metrics import GAUGES as PAYMENTS_GAUGES
from services.users.metrics import GAUGES as USERS_GAUGES
from staysaga.prometheus import RULES, write_config
from tests.support.harness import settings_for


def promtool() -> str:
    """The promtool binary; CI installs it (.ci/run), a developer's machine may not have it."""
    found = shutil.which("promtool")
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("promtool is missing in CI: .ci/run installs Debian's prometheus")
        pytest.skip("promtool is not installed (apt-get install prometheus; CI has it)")
    return found


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=60, check=False)


def test_alert_rules_pass_their_promtool_tests():
    result = run(promtool(), "test", "rules", "alerts.test.yml", cwd=RULES.parent)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_generated_prometheus_config_and_its_rules_are_valid(tmp_path):
    tool = promtool()
    path = write_config(settings_for(tmp_path))
    result = run(tool, "check", "config", str(path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout + result.stderr


def test_the_gauges_the_alerts_watch_are_the_ones_the_services_export():
    rules = RULES.read_text()
    exported = {gauge.name for gauge in (*PAYMENTS_GAUGES, *USERS_GAUGES)}
    watched = {
        "staysaga_payments_open_authorizations_oldest_age_seconds",
        "staysaga_users_outbox_pending_oldest_age_seconds",
    }
    assert watched <= exported
    assert all(name in rules for name in watched)
