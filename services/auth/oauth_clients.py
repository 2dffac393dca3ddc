"""The OAuth 2 clients of staysaga (from the component registry) as the auth server sees them.

Every process is its own confidential client (client_secret_basic); so is the Temporal UI,
which signs operators in by OpenID Connect. Secrets come from the environment:
`AUTH_CLIENT_SECRETS` holds a JSON object {client_id: secret}; `staysaga up` fills it from
var/secrets.env. A client without a secret cannot authenticate.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from components.registry import (
    INTROSPECTION_CLIENTS,
    TEMPORAL_UI_AUDIENCES,
    TEMPORAL_UI_CLIENT,
    TEMPORAL_UI_ROLE,
    TEMPORAL_UI_ROLE_SCOPES,
    TEMPORAL_UI_USER_SCOPES,
    WEBSITE_CLIENT,
    WEBSITE_ROLE_SCOPES,
    WEBSITE_USER_AUDIENCES,
    WEBSITE_USER_SCOPES,
    oauth_clients,
)
from services.auth.api import AUTHORIZATION_CODE, CLIENT_CREDENTIALS, REFRESH_TOKEN
from services.common.auth import audience

CALLBACK_PATH = "/auth/callback"
# Where the Temporal UI server takes the code back (its OIDC callback).
TEMPORAL_UI_CALLBACK_PATH = "/auth/sso/callback"


@dataclass(frozen=True)
class ClientSpec:
    """What one client may do: its scopes for itself and, for a sign-in client (the website,
    the Temporal UI), for the people signing in; whether it may introspect tokens."""

    client_id: str
    service_scopes: frozenset[str]
    user_scopes: frozenset[str] = field(default_factory=frozenset)
    user_audiences: tuple[str, ...] = ()
    # role -> the scopes a sign-in may carry only for an account with that role.
    role_scopes: Mapping[str, frozenset[str]] = field(default_factory=dict)
    introspects: bool = False
    # False: a sign-in client only, which gets no token for itself (client credentials).
    acts_for_itself: bool = True
    # The role an account must hold to sign in with this client at all (None: anyone).
    required_role: str | None = None
    # A confidential OpenID Connect client whose sign-ins may be bound by their nonce when
    # it sends no PKCE challenge (RFC 9700 section 2.1.1): the Temporal UI server sends a
    # nonce but no code challenge. One that does send a challenge is held to it.
    nonce_instead_of_pkce: bool = False

    def scopes_for_roles(self, scope: str, roles: Sequence[str]) -> str:
        """The scopes asked for, less those of roles the account does not hold."""
        held = {s for role in roles for s in self.role_scopes.get(role, ())}
        withheld = self.role_only_scopes() - held
        return " ".join(s for s in scope.split() if s not in withheld)

    def role_only_scopes(self) -> frozenset[str]:
        """Every scope some role gives."""
        return frozenset(s for scopes in self.role_scopes.values() for s in scopes)


# client id -> what it may ask for: the component registry's clients, their scopes, and
# what a traveller signed in on the website may let it do (authorization code + PKCE), for
# the services such a token is for when the website names no `resource`.
CLIENTS: dict[str, ClientSpec] = {
    client_id: ClientSpec(
        client_id,
        frozenset(scopes),
        frozenset(WEBSITE_USER_SCOPES) if client_id == WEBSITE_CLIENT else frozenset(),
        tuple(audience(c) for c in WEBSITE_USER_AUDIENCES) if client_id == WEBSITE_CLIENT else (),
        {role: frozenset(s) for role, s in WEBSITE_ROLE_SCOPES.items()}
        if client_id == WEBSITE_CLIENT
        else {},
        introspects=client_id in INTROSPECTION_CLIENTS,
    )
    for client_id, scopes in oauth_clients().items()
}
CLIENTS[TEMPORAL_UI_CLIENT] = ClientSpec(
    TEMPORAL_UI_CLIENT,
    frozenset(),
    frozenset(TEMPORAL_UI_USER_SCOPES),
    tuple(audience(c) for c in TEMPORAL_UI_AUDIENCES),
    {role: frozenset(s) for role, s in TEMPORAL_UI_ROLE_SCOPES.items()},
    acts_for_itself=False,
    required_role=TEMPORAL_UI_ROLE,
    nonce_instead_of_pkce=True,
)


def all_scopes() -> list[str]:
    """Every scope any client may receive (for the metadata document)."""
    found: set[str] = set()
    for spec in CLIENTS.values():
        found |= spec.service_scopes | spec.user_scopes
        for scopes in spec.role_scopes.values():
            found |= scopes
    return sorted(found)


class ClientRegistry:
    """The known clients with their secrets (from env); looked up by client id."""

    def __init__(
        self, secrets: Mapping[str, str], web_url: str, temporal_ui_callback: str | None = None
    ) -> None:
        self._secrets = {k: v for k, v in secrets.items() if k in CLIENTS and v}
        self.redirect_uri = web_url.rstrip("/") + CALLBACK_PATH
        self.redirect_uris = {WEBSITE_CLIENT: self.redirect_uri}
        if temporal_ui_callback:
            self.redirect_uris[TEMPORAL_UI_CLIENT] = temporal_ui_callback

    @classmethod
    def from_json(
        cls, raw: str | None, web_url: str, temporal_ui_callback: str | None = None
    ) -> ClientRegistry:
        """Parse `AUTH_CLIENT_SECRETS` ({client_id: secret}); an unset variable means none."""
        secrets = json.loads(raw) if raw else {}
        if not isinstance(secrets, dict):
            raise ValueError("AUTH_CLIENT_SECRETS must be a JSON object {client_id: secret}")
        return cls({str(k): str(v) for k, v in secrets.items()}, web_url, temporal_ui_callback)

    def known(self) -> list[str]:
        """The ids of clients that have a secret."""
        return sorted(self._secrets)

    def get(self, client_id: str) -> Client | None:
        """The client, if it exists and has a secret configured."""
        secret = self._secrets.get(client_id)
        if secret is None:
            return None
        return Client(CLIENTS[client_id], secret, self.redirect_uris.get(client_id))

    def redirect_origins(self) -> list[str]:
        """The origins sign-ins are sent back to (the sign-in page's form-action)."""
        found = []
        for uri in self.redirect_uris.values():
            parts = urlsplit(uri)
            found.append(f"{parts.scheme}://{parts.netloc}")
        return sorted(set(found))


class Client:
    """authlib's ClientMixin over a ClientSpec and its secret."""

    def __init__(self, spec: ClientSpec, secret: str, redirect_uri: str | None) -> None:
        self.spec = spec
        self.client_id = spec.client_id
        self._secret = secret
        self._redirect_uri = redirect_uri if spec.user_scopes else None

    def get_client_id(self) -> str:
        """The client id."""
        return self.client_id

    def get_default_redirect_uri(self) -> str | None:
        """The client's callback (only sign-in clients have one)."""
        return self._redirect_uri

    def get_allowed_scope(self, scope: str) -> str:
        """The scopes a sign-in grants: those asked for, or all a traveller may give."""
        if not scope:
            return " ".join(sorted(self.spec.user_scopes))
        allowed = self.spec.service_scopes | self.spec.user_scopes | self.spec.role_only_scopes()
        return " ".join(s for s in scope.split() if s in allowed)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        """Exact match only (OAuth 2.1)."""
        return self._redirect_uri is not None and redirect_uri == self._redirect_uri

    def check_client_secret(self, client_secret: str) -> bool:
        """Constant-time comparison."""
        return hmac.compare_digest(client_secret.encode(), self._secret.encode())

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        """Confidential clients: secret by HTTP Basic (or in the form body)."""
        return method in ("client_secret_basic", "client_secret_post")

    def check_response_type(self, response_type: str) -> bool:
        """Only sign-in clients use the authorization endpoint, with `code`."""
        return bool(self.spec.user_scopes) and response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        """Client credentials for the processes; code and refresh for sign-in clients."""
        if grant_type == CLIENT_CREDENTIALS:
            return self.spec.acts_for_itself
        return bool(self.spec.user_scopes) and grant_type in (AUTHORIZATION_CODE, REFRESH_TOKEN)

    def scopes_for_grant(self, grant_type: str) -> frozenset[str]:
        """The scopes allowed under a grant: the client's own, or a traveller's."""
        if grant_type == CLIENT_CREDENTIALS:
            return self.spec.service_scopes
        # A role's scopes may be asked for; the code carries them only for that role's holders.
        return self.spec.user_scopes | self.spec.role_only_scopes()
