"""`staysaga up` end to end: the real processes, on free ports, in a temporary var dir."""

import os
import signal
import socket
import stat
import subprocess
import sys
import uuid

import httpx
import pytest

from components.settings import load_settings
from staysaga.forkserver import FORK_SERVER
from staysaga.prometheus import prometheus_binary
from staysaga.secrets import read_secrets_file
from temporal.connect import connect
from tests.support.harness import eventually
from tests.support.stack import READY_LINE, StackProcess, kill_quietly

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def var_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("stack")


@pytest.fixture
def stacks():
    started: list[StackProcess] = []
    yield started
    for stack in started:
        if stack.process and stack.process.poll() is None:
            stack.process.kill()
        kill_quietly(stack.processes())


def _temporal_settings(stack: StackProcess):
    return load_settings({"TEMPORAL_ADDRESS": stack.env["TEMPORAL_ADDRESS"]})


async def test_up_serves_search_and_ctrl_c_leaves_no_process(var_dir, stacks):
    stack = StackProcess(var_dir).start()
    stacks.append(stack)
    stack.wait_for_line(READY_LINE)
    assert stack.url("search") + "/docs" in stack.output
    assert f"127.0.0.1:{stack.env['TEMPORAL_UI_PORT']}" in stack.output

    async with httpx.AsyncClient() as http:
        paris = (await http.get(stack.url("search") + "/hotels", params={"city": "Paris"})).json()
        ui = await http.get(f"http://127.0.0.1:{stack.env['TEMPORAL_UI_PORT']}/")
    assert paris["city"]["name"] == "Paris" and paris["items"]
    assert ui.status_code == 200
    processes = set(stack.processes().values())
    # The bank and the mail sink (stand-ins without OAuth clients) share one process.
    assert {"launcher", "temporal", "auth", "search", "bank+mailsink"} <= processes
    components = {name for process in processes for name in process.split("+")}
    if prometheus_binary() is not None:
        # Prometheus scrapes every process: each serves its metrics where the config says.
        assert "prometheus" in components
        targets = f"http://127.0.0.1:{stack.env['PROMETHEUS_PORT']}/api/v1/targets"

        async def every_target_up() -> None:
            async with httpx.AsyncClient() as http:
                active = (await http.get(targets)).json()["data"]["activeTargets"]
            health = {t["labels"]["job"]: (t["health"], t["lastError"]) for t in active}
            assert set(health) == set(components) - {"launcher", FORK_SERVER}, health
            assert {job for job, (state, _) in health.items() if state != "up"} == set(), health

        await eventually(every_target_up, timeout=60)

        # The dev server's histograms are kept as sums and counts, without their buckets.
        query = f"http://127.0.0.1:{stack.env['PROMETHEUS_PORT']}/api/v1/query"

        async def series(selector: str) -> int:
            async with httpx.AsyncClient() as http:
                found = (await http.get(query, params={"query": f"count({selector})"})).json()
            return int(found["data"]["result"][0]["value"][1]) if found["data"]["result"] else 0

        assert await series('{job="temporal", __name__=~".+_count"}') > 0
        assert await series('{job="temporal", __name__=~".+_bucket"}') == 0
        assert await series('{job="search", __name__=~".+_bucket"}') > 0

    # Every process is an OAuth client with a generated secret; the auth server knows them.
    secrets_file = var_dir / "secrets.env"
    # var/ and everything in it (SQLite files with keys, sessions, hashes) are private.
    assert stat.S_IMODE(var_dir.stat().st_mode) == 0o700
    shared = {
        str(p.relative_to(var_dir)): oct(stat.S_IMODE(p.stat().st_mode))
        for p in var_dir.rglob("*")
        if not p.is_symlink() and stat.S_IMODE(p.stat().st_mode) & 0o077
    }
    assert shared == {}
    assert {"auth.db", "users.db", "web.db"} <= {p.name for p in var_dir.iterdir()}
    secret = read_secrets_file(secrets_file)["CLIENT_SECRET_WORKER_RESERVATIONS"]
    assert secret not in stack.output
    async with httpx.AsyncClient() as http:
        issued = await http.post(
            stack.url("auth") + "/oauth2/token",
            data={
                "grant_type": "client_credentials",
                "scope": "reservations:read",
                "resource": "urn:staysaga:reservations",
            },
            auth=("worker-reservations", secret),
        )
    assert issued.status_code == 200, issued.text

    # A workflow started now must still be there after a restart: Temporal persists to var/.
    client = await connect(_temporal_settings(stack))
    await client.start_workflow(
        "NoSuchWorkflow", id="persisted-across-restarts", task_queue=f"nobody-{uuid.uuid4().hex}"
    )

    assert stack.stop(signal.SIGINT) == 0
    assert stack.processes() == {}, stack.output
    assert "every process has exited" in stack.output


async def test_second_up_finds_the_same_data_and_sigterm_stops_it(var_dir, stacks):
    stack = StackProcess(var_dir).start()
    stacks.append(stack)
    stack.wait_for_line(READY_LINE)
    assert "already seeded" in stack.output

    async with httpx.AsyncClient() as http:
        paris = (await http.get(stack.url("search") + "/hotels", params={"city": "Paris"})).json()
    assert paris["items"]

    client = await connect(_temporal_settings(stack))
    description = await client.get_workflow_handle("persisted-across-restarts").describe()
    assert description.workflow_type == "NoSuchWorkflow"

    assert stack.stop(signal.SIGTERM) == 0
    assert stack.processes() == {}, stack.output


async def test_a_killed_service_is_restarted(var_dir, stacks):
    stack = StackProcess(var_dir).start()
    stacks.append(stack)
    stack.wait_for_line(READY_LINE)
    (search_pid,) = [pid for pid, name in stack.processes().items() if name == "search"]
    os.kill(search_pid, signal.SIGKILL)

    async def answers_again() -> None:
        async with httpx.AsyncClient() as http:
            response = await http.get(stack.url("search") + "/readyz")
        assert response.status_code == 200
        assert search_pid not in stack.processes()

    await eventually(answers_again, timeout=60)
    assert "search exited with status -9; restarting" in stack.output

    # A crashed worker comes back too, and polls its task queue again (the workflow worker
    # serves the operators' payload codec beside it: that comes back with it).
    (worker_pid,) = [p for p, name in stack.processes().items() if name == "worker-booking+codec"]
    os.kill(worker_pid, signal.SIGKILL)

    async def worker_back() -> None:
        names = stack.processes()
        assert worker_pid not in names and "worker-booking+codec" in names.values()
        assert "worker-booking+codec is ready again" in stack.output
        async with httpx.AsyncClient() as http:
            assert (await http.get(stack.url("codec") + "/readyz")).status_code == 200

    await eventually(worker_back, timeout=60)
    assert stack.stop() == 0
    assert stack.processes() == {}


def _pid_of(stack: StackProcess, component: str) -> int:
    (pid,) = [p for p, name in stack.processes().items() if name == component]
    return pid


async def test_a_crash_looping_worker_and_a_frozen_service_leave_the_rest_running(var_dir, stacks):
    fast = {
        "STAYSAGA_RESTART_MAX_DELAY_SECONDS": "1",
        "STAYSAGA_PROBE_INTERVAL_SECONDS": "0.5",
        "STAYSAGA_PROBE_TIMEOUT_SECONDS": "1",
    }
    stack = StackProcess(var_dir, fast).start()
    stacks.append(stack)
    stack.wait_for_line(READY_LINE)
    auth_pid = _pid_of(stack, "auth")

    # Six SIGKILLs of one worker in a row, each as soon as it is back.
    killed: set[int] = set()
    for _ in range(6):

        async def worker_respawned() -> int:
            pid = _pid_of(stack, "worker-booking+codec")
            assert pid not in killed
            return pid

        pid = await eventually(worker_respawned, timeout=60)
        os.kill(pid, signal.SIGKILL)
        killed.add(pid)

    async def worker_ready_again() -> None:
        assert stack.process is not None and stack.process.poll() is None, stack.output
        assert stack.output.count("worker-booking+codec is ready again") >= 1
        assert stack.output.rindex("worker-booking+codec is ready again") > stack.output.rindex(
            "worker-booking+codec is degraded (exited "
        )

    await eventually(worker_ready_again, timeout=60)
    assert "giving up" not in stack.output

    # A frozen service is noticed, killed and replaced.
    frozen = _pid_of(stack, "search")
    os.kill(frozen, signal.SIGSTOP)

    async def search_replaced() -> None:
        async with httpx.AsyncClient(timeout=1.0) as http:
            response = await http.get(stack.url("search") + "/readyz")
        assert response.status_code == 200
        assert _pid_of(stack, "search") != frozen

    await eventually(search_replaced, timeout=60)
    assert "search stopped answering (3 liveness probes in a row failed" in stack.output
    assert _pid_of(stack, "auth") == auth_pid
    assert stack.stop() == 0
    assert stack.processes() == {}


def test_a_taken_port_is_refused_naming_its_variable(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        stack = StackProcess(tmp_path, {"SEARCH_PORT": str(busy.getsockname()[1])})
        result = subprocess.run(
            [sys.executable, "-m", "staysaga.cli", "up"],
            env=stack.env,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 1
    assert "SEARCH_PORT" in result.stdout
    assert stack.processes() == {}


def test_a_bad_setting_is_refused_naming_its_variable(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "staysaga.cli", "up"],
        env={"PATH": "/usr/bin:/bin", "SEARCH_PORT": "eighty"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "SEARCH_PORT" in result.stderr and "'eighty'" in result.stderr
