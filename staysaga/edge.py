"""The scaled stack's edge: Debian's nginx in front of the website and every service.

`up --scaled` writes nginx's configuration into var/edge/ from the registry at every start:
one listener per component on the component's own port (so `<NAME>_URL` is the edge, for
browsers and for the services calling each other alike), an upstream with every copy of
it, and a status listener for the launcher's probes. nginx runs in the foreground as a
child of `up`, unprivileged: loopback ports, pid and temporary paths under var/edge/, and,
when `up` itself runs as root, workers as `nobody` (bodies and answers stay in memory, so
they touch no file).

What the edge decides, and why:

- **Load balancing** round-robin over a component's copies, with kept-alive connections.
- **Passive health checks**: a copy that refuses a connection or does not answer in time
  (`max_fails`/`fail_timeout`) gets no requests for a few seconds; the launcher's own
  liveness probes restart it.
- **Retries** (`proxy_next_upstream error timeout`, at most once more, on the other copy):
  a request whose method is idempotent (GET, HEAD, OPTIONS, PUT, DELETE: every route of
  ours with these methods reads, or sets a value) is sent again after a refused
  connection or a timeout. A POST or PATCH is sent again only if no copy received it (a
  refused connection), never after it may have acted, unless it carries an
  Idempotency-Key: the routes that take one answer a repeat with the first answer.
  Timeouts differ accordingly: an idempotent request gets READ_TIMEOUT (less than a
  caller's HTTP_CLIENT_TIMEOUT, so the other copy answers before the caller gives up); a
  write or a progress stream (Accept: text/event-stream) gets WRITE_TIMEOUT, since
  cutting it short would not make it safe to repeat, and a caller's deadline
  (Staysaga-Deadline) already bounds it.
- **Request size limits**: the public components take forms (PUBLIC_BODY), services JSON
  with, at most, an attached PDF (SERVICE_BODY).
- **Rate limits** per client address on the public components only (the website and the
  sign-in pages): a flood brake, cheap and before any Python runs. What a traveller may
  do (sign-ups, resets, holds per address, session and account, over minutes or hours)
  stays in the website (web/ratelimits.py), which knows sessions and accounts; the auth
  server's password throttle too. Services get none: every caller there is a process of
  the stack itself.
- **Forwarded headers**: the edge is the first proxy a client meets, so it replaces
  X-Forwarded-For with the address it saw (a client cannot smuggle one in), after
  believing it only from STAYSAGA_TRUSTED_PROXIES (a load balancer in front, if any).
  It connects to the copies from EDGE_SOURCE, the one address the copies trust.

Lua is not used: nginx's own modules cover the limits above, and the rules that need a
session or an account need the application.
"""

from __future__ import annotations

import grp
import os
import pwd
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from components.registry import COMPONENTS
from services.common.metrics import METRICS_PATH
from services.common.settings import Settings
from staysaga.children import Child, Prober, StackError, http_probe
from temporal.devserver import LOOPBACK

EDGE_SOURCE = "127.0.0.2"
"""The address the edge connects to the copies from; they believe X-Forwarded-For from it
alone (STAYSAGA_TRUSTED_PROXIES). Loopback: any 127.0.0.0/8 address is this machine."""

READ_TIMEOUT = "5s"
WRITE_TIMEOUT = "60s"
CONNECT_TIMEOUT = "2s"
FAIL_TIMEOUT = "5s"
PUBLIC_BODY = "64k"
SERVICE_BODY = "4m"
# Per client address, on the public components: a burst for a page and its assets, a
# sustained rate no person clicks at; in-flight requests at once (streams included).
PUBLIC_RATE = "20r/s"
PUBLIC_BURST = 80
PUBLIC_CONNECTIONS = 32
HEALTH_PATH = "/healthz"
STATUS_PATH = "/status"
_NGINX_PATHS = ("nginx", "/usr/sbin/nginx")

EDGE = "edge"
"""The edge's name among the stack's children."""


def nginx_binary() -> str | None:
    """Where nginx is installed (Debian's nginx-light or nginx: /usr/sbin/nginx), if it is."""
    for candidate in _NGINX_PATHS:
        found = shutil.which(candidate)
        if found:
            return found
    return None


@dataclass(frozen=True)
class Upstream:
    """One component at the edge: where it listens there, and its copies' ports."""

    name: str
    listen: int
    copies: Sequence[int]


def edge_dir(settings: Settings) -> Path:
    """Where the edge keeps its configuration, pid and temporary files."""
    return (settings.var_dir / "edge").resolve()


def config_path(settings: Settings) -> Path:
    """The generated nginx configuration."""
    return edge_dir(settings) / "nginx.conf"


def _real_ip(trusted_proxies: str | None) -> list[str]:
    if not trusted_proxies:
        return []
    lines = [f"    set_real_ip_from {network};" for network in trusted_proxies.split(",")]
    return [*lines, "    real_ip_header X-Forwarded-For;", "    real_ip_recursive on;"]


def _workers_user() -> list[str]:
    # As root, nginx runs its workers as the named user; as anyone else it stays so.
    if os.geteuid() != 0:
        return []
    nobody = pwd.getpwnam("nobody")
    return [f"user nobody {grp.getgrgid(nobody.pw_gid).gr_name};"]


def _server(upstream: Upstream) -> list[str]:
    public = COMPONENTS[upstream.name].public
    body = PUBLIC_BODY if public else SERVICE_BODY
    name = upstream.name
    lines = [
        "    server {",
        f"        listen {LOOPBACK}:{upstream.listen};",
        f"        client_max_body_size {body};",
        f"        client_body_buffer_size {body};",
    ]
    if public:
        lines += [
            f"        limit_req zone=per_address burst={PUBLIC_BURST} nodelay;",
            f"        limit_conn in_flight {PUBLIC_CONNECTIONS};",
        ]
    lines += [
        # Operators' Prometheus scrapes each copy itself; the edge does not show metrics.
        f"        location = {METRICS_PATH} {{ return 404; }}",
        "        location / {",
        "            error_page 418 = @patient;",
        "            error_page 419 = @keyed;",
        "            if ($edge_class = patient) { return 418; }",
        "            if ($edge_class = keyed) { return 419; }",
        f"            proxy_read_timeout {READ_TIMEOUT};",
        f"            proxy_pass http://{name};",
        "        }",
        "        location @patient {",
        f"            proxy_read_timeout {WRITE_TIMEOUT};",
        f"            proxy_pass http://{name};",
        "        }",
        "        location @keyed {",
        f"            proxy_read_timeout {WRITE_TIMEOUT};",
        "            proxy_next_upstream error timeout non_idempotent;",
        f"            proxy_pass http://{name};",
        "        }",
        "    }",
    ]
    return lines


def _upstream(upstream: Upstream) -> list[str]:
    servers = [
        f"        server {LOOPBACK}:{port} max_fails=1 fail_timeout={FAIL_TIMEOUT};"
        for port in upstream.copies
    ]
    return [f"    upstream {upstream.name} {{", *servers, "        keepalive 16;", "    }"]


def render_config(
    settings: Settings, upstreams: Sequence[Upstream], status_port: int, trusted: str | None
) -> str:
    """nginx's configuration for these upstreams (`trusted`: proxies in front, if any)."""
    root = edge_dir(settings)
    lines = [
        "# Written by `staysaga up --scaled` from the component registry at every start.",
        "daemon off;",
        "master_process on;",
        # Two cores shared with every process of the stack: one worker is plenty.
        "worker_processes 1;",
        *_workers_user(),
        f"pid {root}/nginx.pid;",
        "error_log stderr warn;",
        "events { worker_connections 2048; }",
        "http {",
        "    access_log off;",
        "    server_tokens off;",
        *(f"    {kind}_temp_path {root / 'temp' / kind};" for kind in _TEMP_KINDS),
        # Answers larger than the buffers pass through as the client reads them.
        "    proxy_max_temp_file_size 0;",
        *_real_ip(trusted),
        "    map $request_method $edge_idempotent {",
        "        GET 1; HEAD 1; OPTIONS 1; PUT 1; DELETE 1; default 0;",
        "    }",
        '    map $http_accept $edge_stream { "~*text/event-stream" 1; default 0; }',
        '    map $http_idempotency_key $edge_keyed { "" 0; default 1; }',
        # quick: idempotent, so sent again after a short wait; patient: a write (sent
        # again only if no copy got it) or a stream; keyed: a write with an
        # Idempotency-Key, sent again like an idempotent request, after a long wait.
        '    map "$edge_idempotent$edge_stream$edge_keyed" $edge_class {',
        '        "~^10" quick; "~^0.1" keyed; default patient;',
        "    }",
        f"    limit_req_zone $binary_remote_addr zone=per_address:10m rate={PUBLIC_RATE};",
        "    limit_conn_zone $binary_remote_addr zone=in_flight:10m;",
        "    limit_req_status 429;",
        "    limit_conn_status 429;",
        "    proxy_http_version 1.1;",
        '    proxy_set_header Connection "";',
        "    proxy_set_header Host $http_host;",
        "    proxy_set_header X-Forwarded-For $remote_addr;",
        "    proxy_set_header X-Forwarded-Proto $scheme;",
        f"    proxy_bind {EDGE_SOURCE};",
        f"    proxy_connect_timeout {CONNECT_TIMEOUT};",
        "    proxy_next_upstream error timeout;",
        "    proxy_next_upstream_tries 2;",
    ]
    for upstream in upstreams:
        lines += _upstream(upstream)
        lines += _server(upstream)
    lines += [
        "    server {",
        f"        listen {LOOPBACK}:{status_port};",
        f'        location = {HEALTH_PATH} {{ return 200 "ok\\n"; }}',
        f"        location = {STATUS_PATH} {{ stub_status; }}",
        "    }",
        "}",
    ]
    return "\n".join(lines) + "\n"


_TEMP_KINDS = ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")


def write_config(
    settings: Settings,
    upstreams: Sequence[Upstream],
    status_port: int,
    trusted: str | None,
) -> Path:
    """Write the configuration (and the folders nginx wants) under var/edge/."""
    root = edge_dir(settings)
    (root / "temp").mkdir(parents=True, exist_ok=True)
    path = config_path(settings)
    path.write_text(render_config(settings, upstreams, status_port, trusted))
    return path


def edge_argv(settings: Settings) -> list[str]:
    """nginx's command line: in the foreground (`daemon off`), on the written configuration."""
    binary = nginx_binary()
    if binary is None:
        raise StackError(
            "`up --scaled` needs nginx as its edge: apt-get install nginx-light (or nginx)"
        )
    # -e: even before it reads the configuration, nginx logs to the launcher, not /var/log.
    return [binary, "-e", "stderr", "-p", str(edge_dir(settings)), "-c", str(config_path(settings))]


def edge_child(settings: Settings, http: Prober, status_port: int) -> Child:
    """nginx as a child of the stack, probed on its status listener."""
    url = f"http://{LOOPBACK}:{status_port}{HEALTH_PATH}"
    return Child(EDGE, edge_argv(settings), http_probe(url, http))


def upstreams_of(copies: Mapping[str, Sequence[int]], settings: Settings) -> list[Upstream]:
    """Every component at the edge: its own port there, its copies behind."""
    return [Upstream(name, settings.port(name), ports) for name, ports in copies.items()]
