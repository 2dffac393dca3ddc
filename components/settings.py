"""A process's settings, read from the environment for every component of the registry.

`load_settings()` validates every variable of every component at start-up and raises
`SettingsError` naming the first bad one; `describe_settings()` lists every variable with
its default and meaning, for `staysaga config`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TypeVar

from components.registry import (
    AUTH_SERVER,
    COMPONENTS,
    WORKERS,
    Worker,
    jwks_url,
    token_url,
)
from services.auth.settings import AuthSettings
from services.common.parsers import port
from services.common.settings import (
    SHARED_GROUPS,
    Address,
    CommonSettings,
    MailSettings,
    Settings,
    SettingsGroup,
    TemporalSettings,
    TokenIssuer,
    Variable,
)
from services.mailsink.settings import MailsinkSettings

G = TypeVar("G", bound=SettingsGroup)


def _groups() -> tuple[type[SettingsGroup], ...]:
    owned = [g for c in COMPONENTS.values() for g in c.settings]
    owned += [g for w in WORKERS.values() for g in w.settings]
    return SHARED_GROUPS + tuple(owned)


def _address_variables(name: str) -> tuple[Variable, ...]:
    component = COMPONENTS[name]
    prefix = name.upper()
    found = [
        Variable(f"{prefix}_PORT", str(component.port), f"{component.title}: port", port),
        Variable(f"{prefix}_URL", None, f"{component.title}: base URL other components call"),
    ]
    if component.has_database:
        found.append(
            Variable(
                f"{prefix}_DATABASE_URL",
                None,
                f"{component.title}: SQLAlchemy async URL "
                f"(default sqlite+aiosqlite:///<var>/{name}.db)",
            )
        )
    return tuple(found)


def _health_port_variable(worker: Worker) -> Variable:
    queue = worker.queue.value
    return Variable(
        f"WORKER_{queue.upper()}_HEALTH_PORT",
        str(worker.health_port),
        f"worker of task queue {queue}: port of its /healthz and /readyz",
        port,
    )


def _metrics_port_variable(worker: Worker) -> Variable:
    queue = worker.queue.value
    return Variable(
        f"WORKER_{queue.upper()}_METRICS_PORT",
        str(worker.metrics_port),
        f"worker of task queue {queue}: port of the Temporal SDK's Prometheus metrics",
        port,
    )


def all_variables() -> tuple[Variable, ...]:
    """Every variable staysaga reads, in documentation order."""
    found = [v for g in _groups() for v in g.variables()]
    found += [v for name in COMPONENTS for v in _address_variables(name)]
    found += [_health_port_variable(w) for w in WORKERS.values()]
    found += [_metrics_port_variable(w) for w in WORKERS.values()]
    return tuple(found)


def describe_settings() -> list[tuple[str, str, str]]:
    """(name, default, meaning) for every variable, for `staysaga config`."""
    return [(v.name, v.default or "", v.doc) for v in all_variables()]


def generated_secrets() -> tuple[Variable, ...]:
    """The variables `staysaga up` makes a value for and keeps in var/secrets.env."""
    return tuple(v for v in all_variables() if v.generate is not None)


def _address(name: str, env: Mapping[str, str], common: CommonSettings) -> Address:
    port_var, url_var, *database = _address_variables(name)
    bound: int = port_var.read(env)
    url = url_var.read(env)
    database_url = None
    if database:
        default = f"sqlite+aiosqlite:///{(common.var_dir / f'{name}.db').resolve()}"
        database_url = database[0].read(env) or default
    return Address(bound, url.rstrip("/") if url else f"http://{common.host}:{bound}", database_url)


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Read and validate every variable; raise SettingsError naming the first bad one."""
    source = os.environ if env is None else env
    groups = {g: g.load(source) for g in _groups()}
    common = _of(groups, CommonSettings)
    addresses = {name: _address(name, source, common) for name in COMPONENTS}
    health_ports = {q.value: _health_port_variable(w).read(source) for q, w in WORKERS.items()}
    metrics_ports = {q.value: _metrics_port_variable(w).read(source) for q, w in WORKERS.items()}
    auth = _of(groups, AuthSettings)
    auth_url = addresses[AUTH_SERVER].url
    issuer = TokenIssuer(
        issuer=(auth.issuer or auth_url).rstrip("/"),
        jwks_url=auth.jwks_url or jwks_url(auth_url),
        token_url=auth.token_url or token_url(auth_url),
    )
    mail = _of(groups, MailSettings)
    return Settings(
        common=common,
        temporal=_of(groups, TemporalSettings),
        mail=mail,
        addresses=addresses,
        worker_health_ports=health_ports,
        worker_metrics_ports=metrics_ports,
        issuer=issuer,
        smtp_port=mail.smtp_port or _of(groups, MailsinkSettings).smtp_port,
        groups=groups,
        values={v.name: v.read(source) for v in all_variables()},
        env=dict(source),
        loader=load_settings,
    )


def _of(groups: Mapping[type[SettingsGroup], SettingsGroup], group: type[G]) -> G:
    found = groups[group]
    assert isinstance(found, group)
    return found
