"""What `up --scaled` runs and where: copies, ports, databases, the edge's configuration."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import uuid

import pytest

from components.registry import AUTH_SERVER, COMPONENTS, workers_to_run
from services.common.settings import SettingsError
from staysaga import edge, scaled
from staysaga.children import StackError
from staysaga.launchplan import SEED
from staysaga.scaled import ScaledLayout, database_name, server_url
from staysaga.stack import Stack
from tests.conftest import postgres_admin_url
from tests.support.harness import free_port, settings_for

OWN = [name for name, c in COMPONENTS.items() if not c.stand_in]
STAND_INS = [name for name, c in COMPONENTS.items() if c.stand_in]


@pytest.fixture
def layout(tmp_path, monkeypatch):
    monkeypatch.setattr(edge, "nginx_binary", lambda: "/usr/sbin/nginx")
    monkeypatch.setattr(scaled, "prometheus_binary", lambda: None)
    return ScaledLayout(settings_for(tmp_path))


def _plan(layout: ScaledLayout):
    stack = Stack(layout.settings, layout=layout)
    return stack.plan()


def test_two_copies_of_every_own_component_and_worker_and_one_of_each_stand_in(layout):
    names = [child.name for child in _plan(layout)]
    for name in OWN:
        assert names.count(f"{name}-1") == names.count(f"{name}-2") == 1
        assert name not in names
    for name in STAND_INS:
        assert names.count(name) == 1
    for queue in workers_to_run():
        assert {f"worker-{queue}-1", f"worker-{queue}-2"} <= set(names)
    assert names[:2] == ["temporal", "edge"]


def test_each_copy_serves_on_a_port_of_its_own_and_runs_as_its_components_client(layout):
    children = [c for c in _plan(layout) if c.name not in ("temporal", "edge")]
    ports = [int(v) for child in children for k, v in child.env.items() if k.endswith("_PORT")]
    assert len(ports) == len(set(ports))
    edge_ports = {layout.settings.port(name) for name in COMPONENTS}
    assert not edge_ports & set(ports)
    search = next(c for c in children if c.name == "search-2")
    assert search.client_id == "search" and search.argv[-2:] == ["serve", "search"]
    worker = next(c for c in children if c.name == "worker-payments-1")
    assert worker.client_id == "worker-payments"


def test_copies_start_together_after_the_edge_and_the_auth_server_and_workers_last(layout):
    after = {child.name: set(child.after) for child in _plan(layout)}
    auth = {f"{AUTH_SERVER}-1", f"{AUTH_SERVER}-2"}
    assert after["edge"] == set()
    assert after[f"{AUTH_SERVER}-1"] == after[f"{AUTH_SERVER}-2"] == {"edge"}
    assert after["users-1"] == after["users-2"] == {"edge", *auth}
    assert after["search-2"] == {"edge", *auth, SEED}
    components = {
        name
        for name in after
        if not name.startswith("worker-") and name not in ("temporal", "edge", "prometheus")
    }
    assert {"search-1", "search-2", "bank", "mailsink"} <= components
    assert after["worker-payments-1"] == after["worker-booking-2"] == {"temporal", *components}


def test_every_child_reaches_the_others_through_the_edge_and_keeps_data_in_postgresql(layout):
    env = layout.environment()
    for name, component in COMPONENTS.items():
        assert env[f"{name.upper()}_URL"] == f"http://127.0.0.1:{component.port}"
        if component.has_database:
            assert env[f"{name.upper()}_DATABASE_URL"] == (
                f"postgresql+asyncpg://postgres@127.0.0.1:5432/staysaga_{name}"
            )
    assert env["STAYSAGA_TRUSTED_PROXIES"] == edge.EDGE_SOURCE
    assert env["STAYSAGA_HOST"] == "127.0.0.1"


def test_a_database_named_in_the_environment_is_kept_and_not_created(tmp_path):
    url = "postgresql+asyncpg://postgres@db.example:5432/bookings"
    layout = ScaledLayout(settings_for(tmp_path, {"RESERVATIONS_DATABASE_URL": url}))
    assert "reservations" not in layout.own_databases()
    assert "RESERVATIONS_DATABASE_URL" not in layout.environment()


@pytest.mark.parametrize("prefix", ["Staysaga", "1st", "a-b", "", "x" * 41])
def test_a_database_prefix_that_is_not_a_plain_sql_name_is_refused(tmp_path, prefix):
    with pytest.raises(SettingsError, match="SCALED_DATABASE_PREFIX"):
        settings_for(tmp_path, {"SCALED_DATABASE_PREFIX": prefix or " "})


def test_no_database_name_can_be_the_test_suites_own(tmp_path):
    settings = settings_for(tmp_path, {"SCALED_DATABASE_PREFIX": "t"})
    assert all(database_name(settings, name) != "test" for name in COMPONENTS)
    assert all("_" in database_name(settings, name) for name in COMPONENTS)


def test_the_server_url_must_name_no_database(tmp_path):
    with pytest.raises(SettingsError, match="SCALED_POSTGRES_SERVER"):
        settings_for(tmp_path, {"SCALED_POSTGRES_SERVER": "postgresql+asyncpg://h:5432/test"})


def test_prometheus_scrapes_each_copy_on_its_own_port(layout):
    targets = layout.scrape_targets()
    for name in OWN:
        assert len(targets[name]) == 2
    for queue in workers_to_run():
        assert len(targets[f"worker-{queue}"]) == 2
    assert all(len(targets[name]) == 1 for name in STAND_INS)


def test_the_links_are_the_edges_and_name_what_is_behind(layout):
    text = "\n".join(layout.links())
    assert f"http://127.0.0.1:{COMPONENTS['web'].port}/" in text
    assert "2 copies" in text and "staysaga_<service>" in text
    assert text.rstrip().endswith("Press Ctrl-C to stop everything.")


def test_the_written_edge_configuration_is_valid_nginx(tmp_path):
    binary = shutil.which("nginx") or shutil.which("/usr/sbin/nginx")
    if binary is None:
        if os.environ.get("CI"):
            pytest.fail("nginx is missing in CI: .ci/run installs nginx-light")
        pytest.skip("nginx is not installed (apt-get install nginx-light; CI has it)")
    layout = ScaledLayout(settings_for(tmp_path, {"STAYSAGA_TRUSTED_PROXIES": "10.0.0.0/8"}))
    upstreams = edge.upstreams_of(
        {name: [c.port for c in copies] for name, copies in layout.copies.items()},
        layout.settings,
    )
    path = edge.write_config(layout.settings, upstreams, layout.status_port, "10.0.0.0/8")
    argv = [*edge.edge_argv(layout.settings), "-t"]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)  # noqa: S603
    assert result.returncode == 0, result.stderr
    text = path.read_text()
    assert "set_real_ip_from 10.0.0.0/8;" in text
    assert text.count("limit_req zone=") == sum(c.public for c in COMPONENTS.values())


@pytest.mark.postgres
async def test_databases_are_created_once_and_dropped_with_the_stack():
    admin = postgres_admin_url()
    if admin is None:
        pytest.skip("TEST_POSTGRES_URL is not set: no PostgreSQL to test against")
    server = server_url(admin)
    prefix = f"unit_{uuid.uuid4().hex[:8]}"
    names = [f"{prefix}_search", f"{prefix}_users"]
    try:
        assert await scaled.ensure_databases(server, names) == names
        assert await scaled.ensure_databases(server, names) == []
    finally:
        dropped = await scaled.drop_databases(server, prefix)
    assert sorted(dropped) == names


async def test_an_unreachable_postgresql_server_is_named(tmp_path):
    server = f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}"
    with pytest.raises(StackError, match="does not answer"):
        await scaled.ensure_databases(server, ["x_search"])


def test_a_taken_edge_port_is_refused_naming_its_variable(tmp_path, monkeypatch):
    monkeypatch.setattr(edge, "nginx_binary", lambda: "/usr/sbin/nginx")
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        layout = ScaledLayout(settings_for(tmp_path, {"WEB_PORT": str(port)}))
        with pytest.raises(StackError, match="WEB_PORT"):
            layout.check_ports(_plan(layout))
