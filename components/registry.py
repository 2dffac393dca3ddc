"""Every component of staysaga, once: from this table come the ports, URLs and databases,
the OAuth clients and their scopes, the generated secrets, the Temporal workers and their
health ports, and the processes `staysaga up` starts.

It sits above the services (it names each of them; `services/common` names none) and below
the tooling: services, the website and the workers may read it. Scopes are the constants
of each service's `api.py`, never spelled here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from services.auth import api as auth_api
from services.auth.settings import AuthSettings
from services.bank.settings import BankSettings
from services.common.settings import SettingsGroup
from services.mailsink.settings import MailsinkSettings
from services.payments import scopes as payments_scopes
from services.pdf import scopes as pdf_scopes
from services.reservations import scopes as reservations_scopes
from services.reservations.settings import ReservationsSettings
from services.users import scopes as users_scopes
from services.users.settings import UsersSettings
from temporal.queues import TaskQueue
from web.settings import WebSettings
from workflows.settings import ReconcileSettings, WorkflowWorkerSettings


@dataclass(frozen=True)
class Component:
    """A process of the stack that listens on a port.

    `scopes` is what its OAuth 2 client may ask for itself (None: it has no client, e.g.
    the bank, which takes API keys). Its settings are <NAME>_PORT, <NAME>_URL and, where
    it owns data, <NAME>_DATABASE_URL, plus the groups in `settings`. `after` names what
    must answer before `staysaga up` starts it ("temporal": the Temporal server); the
    rest starts at once, side by side. A `stand_in` plays a third party locally (the bank,
    an SMTP relay and its inbox): `up --scaled` runs one copy of it, where it runs
    SCALED_REPLICAS of each of staysaga's own. A `public` one is what travellers' browsers
    reach (the website, the sign-in pages): the scaled stack's edge limits each address's
    request rate there.
    """

    name: str
    port: int
    title: str
    app: str
    scopes: tuple[str, ...] | None = ()
    has_database: bool = True
    settings: tuple[type[SettingsGroup], ...] = ()
    after: tuple[str, ...] = ()
    stand_in: bool = False
    public: bool = False


@dataclass(frozen=True)
class Worker:
    """A Temporal worker (`staysaga worker <queue>`): its task queue, the port of its
    /healthz and /readyz (WORKER_<QUEUE>_HEALTH_PORT), the service its activities call
    (None: the workflow worker), the scopes its client may ask for, and the port where
    the Temporal SDK serves its metrics to Prometheus (WORKER_<QUEUE>_METRICS_PORT)."""

    queue: TaskQueue
    health_port: int
    calls: str | None
    scopes: tuple[str, ...] = ()
    settings: tuple[type[SettingsGroup], ...] = ()
    metrics_port: int = field(kw_only=True)

    @property
    def client_id(self) -> str:
        """Its OAuth 2 client id, `worker-<queue>`."""
        return f"worker-{self.queue.value}"


# In the order `staysaga up` starts them, each as soon as what it names in `after` answers.
# Auth comes first (beside the Temporal server): every process with an OAuth 2 client
# needs tokens.
COMPONENTS: dict[str, Component] = {
    c.name: c
    for c in (
        Component(
            "auth",
            8001,
            "Authentication (OAuth 2)",
            "services.auth.app:create_app",
            # It checks passwords (it mints this token itself, but keeps the row).
            scopes=(users_scopes.CREDENTIALS,),
            settings=(AuthSettings,),
            public=True,
        ),
        Component(
            "reservations",
            8004,
            "Reservations",
            "services.reservations.app:create_app",
            settings=(ReservationsSettings,),
            after=("auth",),
        ),
        # Search asks Reservations for availability: it starts after it.
        Component(
            "search",
            8003,
            "Search",
            "services.search.app:create_app",
            scopes=(reservations_scopes.READ,),
            after=("auth", "reservations"),
        ),
        Component(
            "bank",
            8009,
            "Bank (simulated)",
            "services.bank.app:create_app",
            scopes=None,
            settings=(BankSettings,),
            stand_in=True,
        ),
        Component(
            "payments", 8005, "Payments", "services.payments.app:create_app", after=("auth", "bank")
        ),
        # The mail sink first: Users hands e-mails to its SMTP port as soon as it starts.
        Component(
            "mailsink",
            8025,
            "Mail sink inbox",
            "services.mailsink.app:create_app",
            scopes=None,
            settings=(MailsinkSettings,),
            stand_in=True,
        ),
        Component("pdf", 8006, "PDF reporting", "services.pdf.app:create_app", after=("auth",)),
        # Operators' Temporal UI decrypts payloads through it (the dev server is told so).
        Component(
            "codec",
            8010,
            "Payload codec (operators)",
            "temporal.codec_server:create_app",
            scopes=None,
            has_database=False,
        ),
        Component(
            "users",
            8002,
            "Users",
            "services.users.app:create_app",
            scopes=(pdf_scopes.READ,),
            settings=(UsersSettings,),
            after=("auth", "mailsink", "pdf"),
        ),
        # Last: the website calls everything above. It registers travellers and shows
        # their account, and reads bookings for pages.
        Component(
            "web",
            8000,
            "Booking website",
            "web.app:create_app",
            scopes=(users_scopes.REGISTER, users_scopes.READ, reservations_scopes.READ),
            settings=(WebSettings,),
            after=("temporal", "auth", "reservations", "search", "payments", "pdf", "users"),
            public=True,
        ),
    )
}

WORKERS: dict[TaskQueue, Worker] = {
    w.queue: w
    for w in (
        Worker(
            TaskQueue.BOOKING,
            8101,
            None,
            settings=(ReconcileSettings, WorkflowWorkerSettings),
            metrics_port=8111,
        ),
        Worker(
            TaskQueue.RESERVATIONS,
            8102,
            "reservations",
            (reservations_scopes.READ, reservations_scopes.WRITE, reservations_scopes.RECONCILE),
            metrics_port=8112,
        ),
        Worker(
            TaskQueue.PAYMENTS,
            8103,
            "payments",
            (payments_scopes.CHARGE, payments_scopes.READ, payments_scopes.RECONCILE),
            metrics_port=8113,
        ),
        Worker(
            TaskQueue.DOCUMENTS,
            8104,
            "pdf",
            (pdf_scopes.RENDER, pdf_scopes.READ),
            metrics_port=8114,
        ),
        Worker(
            TaskQueue.NOTIFICATIONS,
            8105,
            "users",
            (users_scopes.NOTIFY, users_scopes.READ),
            metrics_port=8115,
        ),
    )
}

# The website's OAuth 2 client signs travellers in (authorization code + PKCE): what such a
# traveller may let it do, and the services such a token is for when it names no resource.
# Never `reservations:write` nor `payments:charge`: holds and payments go through the saga.
WEBSITE_CLIENT = "web"
WEBSITE_USER_SCOPES: tuple[str, ...] = (
    users_scopes.PROFILE,
    users_scopes.READ,
    reservations_scopes.READ,
    payments_scopes.READ,
    pdf_scopes.READ,
)
WEBSITE_USER_AUDIENCES: tuple[str, ...] = ("users", "reservations", "payments", "pdf")
# What an operator signed in on the website may let it do besides (the operator pages):
# the authorization server grants these only to accounts with that role, and only when the
# sign-in asks for them.
WEBSITE_ROLE_SCOPES: dict[str, tuple[str, ...]] = {
    users_scopes.OPERATOR: (users_scopes.OPS_READ, users_scopes.OPS_WRITE),
}

# The Temporal UI's OAuth 2 client signs operators in by OpenID Connect (authorization code
# + PKCE, `openid profile email`): only accounts with the operator role, and what their token
# lets the UI do is read payloads through the codec server (its only audience, `ops:read`).
# It gets no token for itself (no client credentials) and nothing that writes.
TEMPORAL_UI_CLIENT = "temporal-ui"
TEMPORAL_UI_USER_SCOPES: tuple[str, ...] = (
    auth_api.OPENID,
    users_scopes.PROFILE,
    auth_api.EMAIL,
)
TEMPORAL_UI_AUDIENCES: tuple[str, ...] = ("codec",)
TEMPORAL_UI_ROLE = users_scopes.OPERATOR
TEMPORAL_UI_ROLE_SCOPES: dict[str, tuple[str, ...]] = {
    users_scopes.OPERATOR: (users_scopes.OPS_READ,)
}

# The OAuth 2 clients that may ask the authorization server about a token (RFC 7662
# introspection). None of ours needs to: every service verifies access tokens itself,
# against the published keys; a client added here must say why it cannot.
INTROSPECTION_CLIENTS: frozenset[str] = frozenset()

# Where the authorization server's clients find its keys and its token endpoint.
AUTH_SERVER = "auth"


def token_url(auth_url: str) -> str:
    """The token endpoint of the authorization server at `auth_url`."""
    return auth_url + auth_api.TOKEN_PATH


def jwks_url(auth_url: str) -> str:
    """Where the authorization server at `auth_url` publishes its keys."""
    return auth_url + auth_api.JWKS_PATH


def oauth_clients() -> dict[str, tuple[str, ...]]:
    """client id -> the scopes it may get for itself by client credentials: one client per
    process, so a token names the process that asked and a leaked secret gives away one
    process's scopes."""
    clients = {c.name: c.scopes for c in COMPONENTS.values() if c.scopes is not None}
    clients.update({w.client_id: w.scopes for w in WORKERS.values()})
    return clients


def sign_in_clients() -> tuple[str, ...]:
    """The OAuth 2 clients that only sign people in (no process of ours, no client
    credentials): each has a secret like the processes' clients, which the platform hands to
    the application that uses it (the Temporal UI)."""
    return (TEMPORAL_UI_CLIENT,)


def workers_to_run() -> list[TaskQueue]:
    """The task queues whose worker `up` starts: each once the service it calls exists."""
    return [w.queue for w in WORKERS.values() if w.calls is None or w.calls in COMPONENTS]
